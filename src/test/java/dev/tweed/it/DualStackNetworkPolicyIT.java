package dev.tweed.it;

/**
 * Every NetworkPolicy test again in a dual-stack lab: the conformance suite in IPv6 (its ipBlocks
 * written in IPv6; the IPv4 run is {@link NetworkPolicyIT}'s), anti-spoofing in both families, one
 * policy enforced in both tables.
 */
class DualStackNetworkPolicyIT extends NetworkPolicyIT {
  @Override
  String ipFamily() {
    return "dual";
  }
}
