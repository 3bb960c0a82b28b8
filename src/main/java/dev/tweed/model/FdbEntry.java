package dev.tweed.model;

/** A VXLAN forwarding entry: frames to {@code mac} go to the underlay address {@code dst}. */
public record FdbEntry(String mac, String device, String dst) implements Comparable<FdbEntry> {
  @Override
  public int compareTo(FdbEntry o) {
    int c = mac.compareTo(o.mac);
    c = c != 0 ? c : device.compareTo(o.device);
    return c != 0 ? c : dst.compareTo(o.dst);
  }
}
