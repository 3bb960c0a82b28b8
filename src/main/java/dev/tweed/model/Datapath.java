package dev.tweed.model;

/**
 * What carries pods' packets on a node: the kernel's routing and netfilter ({@link #STANDARD}), or
 * Tweed's tc programs and their maps ({@link #EBPF}, which also replaces the service proxy).
 */
public enum Datapath implements Mode {
  STANDARD,
  EBPF;

  public static Datapath parse(String text) {
    return Mode.parse(Datapath.class, text);
  }
}
