package dev.tweed.model;

/** The node's VXLAN tunnel device: its VNI, underlay endpoint, MAC and tunnel address. */
public record VxlanDevice(
    String name, int vni, String localIp, int port, String mac, int mtu, String address) {}
