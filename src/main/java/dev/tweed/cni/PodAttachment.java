package dev.tweed.cni;

import dev.tweed.model.IpFamily;
import dev.tweed.model.WorkloadEndpoint;
import java.util.List;

/**
 * What ADD created for one pod interface, enough to describe it in the result and undo it: its
 * addresses, one per family in the cluster's order.
 */
public record PodAttachment(
    String hostInterface,
    String hostMac,
    String podInterface,
    String podMac,
    String netns,
    List<String> ips) {
  /** Every host-side veth's MAC: {@link WorkloadEndpoint#HOST_MAC}. */
  public static final String HOST_MAC = WorkloadEndpoint.HOST_MAC;

  /** The pod's IPv4 gateway: never configured anywhere, answered by proxy-ARP on the host. */
  public static final String GATEWAY = "169.254.1.1";

  /**
   * The pod's IPv6 gateway: the host veth's own link-local address, which the kernel derives from
   * {@link #HOST_MAC} (EUI-64). Being a real address of the host end, it is answered by ordinary
   * neighbour discovery: no proxy-NDP is needed, unlike IPv4's 169.254.1.1.
   */
  public static final String GATEWAY6 = "fe80::ecee:eeff:feee:eeee";

  public PodAttachment {
    ips = List.copyOf(ips);
  }

  public static String gateway(IpFamily family) {
    return family == IpFamily.IPV4 ? GATEWAY : GATEWAY6;
  }

  /** The pod's address as a host prefix: /32 or /128. */
  public static String hostPrefix(String ip) {
    return ip + "/" + IpFamily.of(ip).bits();
  }
}
