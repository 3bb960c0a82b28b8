package dev.tweed.it;

/**
 * Every NetworkPolicy test again with policy in nftables, in a dual-stack lab: the whole
 * conformance suite in IPv4 ({@code ip tweed-policy}), its scenarios that differ by family in IPv6
 * ({@code ip6 tweed-policy}), anti-spoofing in both families.
 */
class NftablesNetworkPolicyIT extends NetworkPolicyIT {
  @Override
  String proxyMode() {
    return "nftables";
  }

  @Override
  String ipFamily() {
    return "dual";
  }

  @Override
  boolean ipv4RunElsewhere() {
    return false;
  }
}
