package dev.tweed.model;

/**
 * The three dataplanes a node can run, as benchmarks and tests choose among them: the standard
 * datapath with kube-proxy's iptables layout or its nftables layout, or the eBPF datapath.
 */
public enum Dataplane implements Mode {
  IPTABLES("iptables", Datapath.STANDARD, ProxyMode.IPTABLES),
  NFTABLES("nftables", Datapath.STANDARD, ProxyMode.NFTABLES),
  /** The eBPF datapath replaces the proxy; its lab still names a proxy mode, iptables. */
  EBPF("ebpf", Datapath.EBPF, ProxyMode.IPTABLES);

  private final String id;
  private final Datapath datapath;
  private final ProxyMode proxyMode;

  Dataplane(String id, Datapath datapath, ProxyMode proxyMode) {
    this.id = id;
    this.datapath = datapath;
    this.proxyMode = proxyMode;
  }

  @Override
  public String id() {
    return id;
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
