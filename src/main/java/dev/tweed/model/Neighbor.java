package dev.tweed.model;

/**
 * A permanent neighbour entry (ARP for IPv4, NDP for IPv6): the remote VTEP's address resolved to
 * its MAC.
 */
public record Neighbor(String address, String mac, String device) implements Comparable<Neighbor> {
  @Override
  public int compareTo(Neighbor o) {
    int c = IpAddress.parse(address).compareTo(IpAddress.parse(o.address));
    return c != 0 ? c : device.compareTo(o.device);
  }
}
