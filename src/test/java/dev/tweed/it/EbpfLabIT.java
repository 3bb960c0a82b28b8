package dev.tweed.it;

/**
 * The lab's behaviour tests again on the eBPF datapath: connectivity, probes, drift repair, agent
 * restarts (also kill -9) under traffic, pod deletion.
 */
class EbpfLabIT extends LabIT {
  @Override
  String dataplane() {
    return "ebpf";
  }
}
