package dev.tweed.it;

/**
 * Every Service test again with the eBPF datapath under the iptables proxy: ClusterIP, NodePort, no
 * endpoints and affinity still work when pods' own traffic goes through programs.
 */
class EbpfServiceIT extends ServiceIT {
  @Override
  String dataplane() {
    return "ebpf";
  }
}
