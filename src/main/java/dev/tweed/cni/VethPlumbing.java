package dev.tweed.cni;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.dataplane.IpTool;
import dev.tweed.model.IpAddress;
import dev.tweed.model.IpFamily;
import dev.tweed.model.Route;
import dev.tweed.sys.NetnsFd;
import dev.tweed.sys.NetworkNamespace;
import dev.tweed.sys.RtNetlink;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;

/**
 * Connects a pod's network namespace to the node, Calico-style: a veth pair whose pod end holds the
 * pod's /32 and a default route via 169.254.1.1, and whose host end answers that gateway by
 * proxy-ARP and receives the pod's /32 route. An IPv6 address is a /128 on the pod end with a
 * default route via the host end's link-local address ({@link PodAttachment#GATEWAY6}), and a /128
 * route on the host; neither end runs duplicate address detection, and the host end ignores router
 * advertisements. Runs in the node's namespace.
 */
public final class VethPlumbing {
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final int LOOPBACK_INDEX = 1;
  private final int mtu;

  public VethPlumbing(int mtu) {
    this.mtu = mtu;
  }

  /**
   * The host-side name, stable per attachment so that DEL and GC find it again (as Calico's cali*).
   */
  public static String hostInterfaceName(String containerId, String ifname) {
    try {
      byte[] h =
          MessageDigest.getInstance("SHA-256")
              .digest((containerId + "." + ifname).getBytes(StandardCharsets.UTF_8));
      return "tw" + HexFormat.of().formatHex(h).substring(0, 11);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * Creates the pair and configures both ends: the pod end in {@code podNs} (an open descriptor, so
   * no mount of the runtime's is needed), named in the result as {@code netnsPath}.
   */
  public PodAttachment attach(
      String containerId,
      String ifname,
      String netnsPath,
      NetnsFd podNs,
      List<String> ips,
      String podMac)
      throws CniException {
    String hostIf = hostInterfaceName(containerId, ifname);
    boolean v6 = ips.stream().anyMatch(a -> IpFamily.of(a) == IpFamily.IPV6);
    try (RtNetlink host = RtNetlink.open()) {
      host.createVethPair(hostIf, PodAttachment.HOST_MAC, mtu, ifname, podMac, podNs);
      int index = host.index(hostIf);
      if (v6) {
        // Before the link comes up, or its link-local address (the pods' gateway) would stay
        // tentative through DAD and go unanswered for a second.
        sysctl("net/ipv6/conf/" + hostIf + "/accept_dad", "0");
        sysctl("net/ipv6/conf/" + hostIf + "/accept_ra", "0");
      }
      host.setUp(index);
      for (String ip : ips) {
        host.addRoute(
            true,
            ip,
            IpFamily.of(ip).bits(),
            Optional.empty(),
            index,
            RtNetlink.SCOPE_LINK,
            Route.PROTOCOL);
      }
    } catch (IOException | RuntimeException e) {
      detach(hostIf);
      throw new CniException(
          CniException.DATAPLANE_FAILURE, "cannot create veth " + hostIf, e.getMessage());
    }
    try {
      if (ips.stream().anyMatch(a -> IpFamily.of(a) == IpFamily.IPV4)) {
        sysctl("net/ipv4/conf/" + hostIf + "/proxy_arp", "1");
        // The kernel delays proxy-ARP replies by up to 0.8 s unless told otherwise.
        sysctl("net/ipv4/neigh/" + hostIf + "/proxy_delay", "0");
        sysctl("net/ipv4/conf/" + hostIf + "/forwarding", "1");
      }
      NetworkNamespace.call(
          podNs,
          () -> {
            configurePodEnd(ifname, ips, v6);
            return null;
          });
    } catch (Exception e) {
      detach(hostIf);
      throw new CniException(
          CniException.DATAPLANE_FAILURE,
          "cannot configure pod interface " + ifname,
          e.getMessage());
    }
    return new PodAttachment(hostIf, PodAttachment.HOST_MAC, ifname, podMac, netnsPath, ips);
  }

  /** Run by a thread inside the pod's namespace. */
  private static void configurePodEnd(String ifname, List<String> ips, boolean v6)
      throws IOException {
    try (RtNetlink pod = RtNetlink.open()) {
      pod.setUp(LOOPBACK_INDEX);
      int index = pod.index(ifname);
      if (v6) {
        sysctl("net/ipv6/conf/" + ifname + "/accept_dad", "0");
      }
      for (String ip : ips) {
        pod.addAddress(index, ip, IpFamily.of(ip).bits());
      }
      pod.setUp(index);
      for (String ip : ips) {
        IpFamily family = IpFamily.of(ip);
        String gateway = PodAttachment.gateway(family);
        if (family == IpFamily.IPV4) {
          pod.addRoute(
              false,
              gateway,
              32,
              Optional.empty(),
              index,
              RtNetlink.SCOPE_LINK,
              RtNetlink.PROTO_BOOT);
        }
        // The IPv6 gateway is link-local: on-link by definition, no route to it needed.
        pod.addRoute(
            false,
            family == IpFamily.IPV4 ? "0.0.0.0" : "::",
            0,
            Optional.of(gateway),
            index,
            RtNetlink.SCOPE_UNIVERSE,
            RtNetlink.PROTO_BOOT);
      }
    }
  }

  /** Removes the host veth (and with it the pod end and the /32 route); absent is fine. */
  public void detach(String hostIf) {
    try (RtNetlink host = RtNetlink.open()) {
      host.deleteLink(hostIf);
    }
  }

  public boolean hostInterfaceExists(String hostIf) {
    return Files.exists(Path.of("/sys/class/net", hostIf));
  }

  /** Verifies the pod side still has its addresses and a default route per family. */
  public void check(NetnsFd podNs, String ifname, List<String> ips) throws CniException {
    try {
      NetworkNamespace.call(podNs, () -> checkHere(ifname, ips));
    } catch (CniException e) {
      throw e;
    } catch (Exception e) {
      throw new CniException(
          CniException.CHECK_FAILED, "cannot inspect " + ifname + " in the pod", e.getMessage());
    }
  }

  /** The check, run by a thread inside the pod's namespace (the {@code ip} it starts is too). */
  private static Void checkHere(String ifname, List<String> ips) throws CniException {
    IpTool pod = IpTool.here();
    JsonNode addrs = pod.json("ip", "addr", "show", "dev", ifname);
    for (String ip : ips) {
      int bits = IpFamily.of(ip).bits();
      boolean hasIp = false;
      for (JsonNode a : addrs.path(0).path("addr_info")) {
        hasIp |=
            IpAddress.parse(ip).equals(IpAddress.parse(a.path("local").asText("0.0.0.0")))
                && a.path("prefixlen").asInt() == bits;
      }
      if (!hasIp) {
        throw new CniException(
            CniException.CHECK_FAILED, ifname + " does not hold " + PodAttachment.hostPrefix(ip));
      }
      IpFamily family = IpFamily.of(ip);
      String gateway = PodAttachment.gateway(family);
      JsonNode routes =
          pod.json("ip", family == IpFamily.IPV4 ? "-4" : "-6", "route", "show", "default");
      boolean hasDefault = false;
      for (JsonNode r : routes) {
        hasDefault |= gateway.equals(r.path("gateway").asText());
      }
      if (!hasDefault) {
        throw new CniException(CniException.CHECK_FAILED, "no default route via " + gateway);
      }
    }
    return null;
  }

  private static void sysctl(String key, String value) throws IOException {
    Files.writeString(Path.of("/proc/sys", key), value);
  }

  /** A random locally administered unicast MAC for a pod interface. */
  public static String randomMac() {
    byte[] b = new byte[6];
    RANDOM.nextBytes(b);
    b[0] = (byte) ((b[0] & 0xfc) | 0x02);
    return HexFormat.ofDelimiter(":").formatHex(b);
  }
}
