package dev.tweed.it;

/**
 * The NetworkPolicy tests that differ by family, in a dual-stack lab: 14 conformance scenarios at
 * the pods' IPv6 addresses (ipBlocks written in IPv6, named ports, deny-all; the IPv4 run of all 40
 * is {@link NetworkPolicyIT}'s) and anti-spoofing in both families.
 */
class DualStackNetworkPolicyIT extends NetworkPolicyIT {
  @Override
  String ipFamily() {
    return "dual";
  }
}
