package dev.tweed.it;

/**
 * The lab's behaviour tests again on the eBPF datapath, in a dual-stack lab (its IPv4 half is the
 * IPv4 run): connectivity in both families through the programs, probes, drift repair, agent
 * restarts (also kill -9) under traffic, pod deletion.
 */
class EbpfLabIT extends LabIT {
  @Override
  String dataplane() {
    return "ebpf";
  }

  @Override
  String ipFamily() {
    return "dual";
  }

  /** The eBPF datapath's only lab run: the tests of IPv4 alone run here too. */
  @Override
  void coveredByTheIpv4Run() {}
}
