package dev.tweed.model;

/**
 * The three dataplanes a node can run, as benchmarks and tests choose among them: the standard
 * datapath with kube-proxy's iptables layout or its nftables layout, or the eBPF datapath.
 */
public enum Dataplane implements Mode {
  IPTABLES(Datapath.STANDARD, ProxyMode.IPTABLES),
  NFTABLES(Datapath.STANDARD, ProxyMode.NFTABLES),
  /** The eBPF datapath replaces the proxy; its lab still names a proxy mode, iptables. */
  EBPF(Datapath.EBPF, ProxyMode.IPTABLES);

  private final Datapath datapath;
  private final ProxyMode proxyMode;

  Dataplane(Datapath datapath, ProxyMode proxyMode) {
    this.datapath = datapath;
    this.proxyMode = proxyMode;
  }

  public Datapath datapath() {
    return datapath;
  }

  public ProxyMode proxyMode() {
    return proxyMode;
  }

  public static Dataplane parse(String text) {
    return Mode.parse(Dataplane.class, text);
  }
}
