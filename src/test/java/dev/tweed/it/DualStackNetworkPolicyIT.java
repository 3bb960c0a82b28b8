package dev.tweed.it;

/**
 * Every NetworkPolicy test again in a dual-stack lab: the conformance suite in each family (its
 * ipBlocks written in that family), anti-spoofing in both, one policy enforced in both tables.
 */
class DualStackNetworkPolicyIT extends NetworkPolicyIT {
  @Override
  String ipFamily() {
    return "dual";
  }
}
