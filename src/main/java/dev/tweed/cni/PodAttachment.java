package dev.tweed.cni;

import dev.tweed.model.WorkloadEndpoint;

/** What ADD created for one pod interface, enough to describe it in the result and undo it. */
public record PodAttachment(
    String hostInterface,
    String hostMac,
    String podInterface,
    String podMac,
    String netns,
    String ip) {
  /** Every host-side veth's MAC: {@link WorkloadEndpoint#HOST_MAC}. */
  public static final String HOST_MAC = WorkloadEndpoint.HOST_MAC;

  /** The pod's default gateway: never configured anywhere, answered by proxy-ARP on the host. */
  public static final String GATEWAY = "169.254.1.1";
}
