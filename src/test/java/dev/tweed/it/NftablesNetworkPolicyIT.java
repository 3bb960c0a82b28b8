package dev.tweed.it;

/**
 * Every NetworkPolicy test again with policy in nftables: {@code ip tweed-policy} and {@code ip6
 * tweed-policy}.
 */
class NftablesNetworkPolicyIT extends NetworkPolicyIT {
  @Override
  String proxyMode() {
    return "nftables";
  }
}
