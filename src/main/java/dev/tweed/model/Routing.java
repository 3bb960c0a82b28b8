package dev.tweed.model;

/**
 * How a node reaches pods on other nodes: a VXLAN overlay the agent programs itself, or routes BIRD
 * learns from its BGP peers.
 */
public enum Routing implements Mode {
  VXLAN("vxlan"),
  BGP("bgp");

  private final String id;

  Routing(String id) {
    this.id = id;
  }

  @Override
  public String id() {
    return id;
  }

  public static Routing parse(String text) {
    return Mode.parse(Routing.class, text);
  }
}
