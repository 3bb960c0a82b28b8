package dev.tweed.cni;

/** What ADD created for one pod interface, enough to describe it in the result and undo it. */
public record PodAttachment(
    String hostInterface,
    String hostMac,
    String podInterface,
    String podMac,
    String netns,
    String ip) {
  /** Calico's choice: every host-side veth has this MAC, and proxy-ARP answers for the gateway. */
  public static final String HOST_MAC = "ee:ee:ee:ee:ee:ee";

  /** The pod's default gateway: never configured anywhere, answered by proxy-ARP on the host. */
  public static final String GATEWAY = "169.254.1.1";
}
