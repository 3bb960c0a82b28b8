package dev.tweed.model;

/** A VXLAN forwarding entry: frames to {@code mac} go to the underlay address {@code dst}. */
public record FdbEntry(String mac, String device, String dst) implements Comparable<FdbEntry> {
  @Override
  public int compareTo(FdbEntry o) {
    return mac.compareTo(o.mac);
  }
}
