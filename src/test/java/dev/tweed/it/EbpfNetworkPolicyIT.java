package dev.tweed.it;

/**
 * Every NetworkPolicy test again, with policy enforced by the eBPF datapath's programs (a pod's two
 * addresses carry one identity).
 */
class EbpfNetworkPolicyIT extends NetworkPolicyIT {
  @Override
  String dataplane() {
    return "ebpf";
  }
}
