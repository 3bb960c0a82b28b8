package dev.tweed.model;

/**
 * The node's VXLAN tunnel device: its VNI, underlay endpoint, MAC and tunnel address. An {@code
 * external} (collect-metadata) device has neither VNI nor peers of its own: the eBPF datapath sets
 * each packet's remote end and VNI, and it resolves no neighbours (NOARP).
 */
public record VxlanDevice(
    String name,
    int vni,
    String localIp,
    int port,
    String mac,
    int mtu,
    String address,
    boolean external) {
  public VxlanDevice(
      String name, int vni, String localIp, int port, String mac, int mtu, String address) {
    this(name, vni, localIp, port, mac, mtu, address, false);
  }

  /** The family of its underlay, which is the family of the pods it carries. */
  public IpFamily family() {
    return IpFamily.of(localIp);
  }
}
