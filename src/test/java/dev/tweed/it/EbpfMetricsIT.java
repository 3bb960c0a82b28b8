package dev.tweed.it;

/** The metrics again on the eBPF datapath: drops counted by the programs themselves. */
class EbpfMetricsIT extends MetricsIT {
  @Override
  String dataplane() {
    return "ebpf";
  }
}
