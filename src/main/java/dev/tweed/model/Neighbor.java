package dev.tweed.model;

/** A permanent neighbour (ARP) entry: the remote VTEP's address resolved to its MAC. */
public record Neighbor(String address, String mac, String device) implements Comparable<Neighbor> {
  @Override
  public int compareTo(Neighbor o) {
    return Integer.compareUnsigned(Ipv4.parse(address), Ipv4.parse(o.address));
  }
}
