package dev.tweed.it;

/**
 * The dual-stack NetworkPolicy tests again with policy in nftables: the IPv6 scenarios and
 * anti-spoofing enforced by the {@code ip6 tweed-policy} table.
 */
class NftablesDualStackNetworkPolicyIT extends DualStackNetworkPolicyIT {
  @Override
  String proxyMode() {
    return "nftables";
  }
}
