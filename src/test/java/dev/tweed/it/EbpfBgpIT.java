package dev.tweed.it;

/**
 * Pods across nodes over BIRD's routes on the eBPF datapath (FIB lookup and redirect to the uplink,
 * no encapsulation), and a stopped node's routes and endpoints going and coming back.
 */
class EbpfBgpIT extends BgpIT {
  @Override
  String dataplane() {
    return "ebpf";
  }
}
