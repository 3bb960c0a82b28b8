package dev.tweed.it;

/**
 * Every NetworkPolicy test again, with policy enforced by the eBPF datapath's programs, in a
 * dual-stack lab: the whole conformance suite in IPv4, its scenarios that differ by family in IPv6
 * (a pod's two addresses carry one identity), anti-spoofing in both families.
 */
class EbpfNetworkPolicyIT extends NetworkPolicyIT {
  @Override
  String dataplane() {
    return "ebpf";
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
