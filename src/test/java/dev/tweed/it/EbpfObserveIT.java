package dev.tweed.it;

/** Observation on the eBPF datapath: the programs' own events, drops included. */
class EbpfObserveIT extends ObserveIT {
  @Override
  String dataplane() {
    return "ebpf";
  }
}
