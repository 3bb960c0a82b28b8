package dev.tweed.model;

/**
 * How a node reaches pods on other nodes: a VXLAN overlay the agent programs itself, or routes BIRD
 * learns from its BGP peers.
 */
public enum Routing implements Mode {
  VXLAN,
  BGP;

  public static Routing parse(String text) {
    return Mode.parse(Routing.class, text);
  }
}
