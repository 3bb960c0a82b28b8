package dev.tweed.it;

/**
 * Every Service test again with the eBPF datapath, whose programs load-balance Services in place of
 * the proxy's rules: the same traffic, the same answers, and no service rule in iptables or nft.
 */
class EbpfServiceIT extends ServiceIT {
  @Override
  String dataplane() {
    return "ebpf";
  }
}
