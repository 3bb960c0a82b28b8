package dev.tweed.it;

/**
 * The lab's behaviour tests again on the eBPF datapath (a dual-stack lab, as every run of the
 * suite): connectivity in both families through the programs, probes, drift repair (also tc filters
 * and map entries), agent restarts (also kill -9) under traffic, pod deletion.
 */
class EbpfLabIT extends LabIT {
  @Override
  String dataplane() {
    return "ebpf";
  }
}
