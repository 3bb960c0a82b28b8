package dev.tweed.it;

/** Every NetworkPolicy test again, with policy enforced by the eBPF datapath's programs. */
class EbpfNetworkPolicyIT extends NetworkPolicyIT {
  @Override
  String dataplane() {
    return "ebpf";
  }
}
