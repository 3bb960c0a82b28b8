package dev.tweed.cni;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.dataplane.IpTool;
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
import java.util.Optional;

/**
 * Connects a pod's network namespace to the node, Calico-style: a veth pair whose pod end holds the
 * pod's /32 and a default route via 169.254.1.1, and whose host end answers that gateway by
 * proxy-ARP and receives the pod's /32 route. Runs in the node's namespace.
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
      String containerId, String ifname, String netnsPath, NetnsFd podNs, String ip, String podMac)
      throws CniException {
    String hostIf = hostInterfaceName(containerId, ifname);
    try (RtNetlink host = RtNetlink.open()) {
      host.createVethPair(hostIf, PodAttachment.HOST_MAC, mtu, ifname, podMac, podNs);
      int index = host.index(hostIf);
      host.addRoute(true, ip, 32, Optional.empty(), index, RtNetlink.SCOPE_LINK, Route.PROTOCOL);
    } catch (RuntimeException e) {
      detach(hostIf);
      throw new CniException(
          CniException.DATAPLANE_FAILURE, "cannot create veth " + hostIf, e.getMessage());
    }
    try {
      sysctl("net/ipv4/conf/" + hostIf + "/proxy_arp", "1");
      // The kernel delays proxy-ARP replies by up to 0.8 s unless told otherwise.
      sysctl("net/ipv4/neigh/" + hostIf + "/proxy_delay", "0");
      sysctl("net/ipv4/conf/" + hostIf + "/forwarding", "1");
      NetworkNamespace.call(
          podNs,
          () -> {
            try (RtNetlink pod = RtNetlink.open()) {
              pod.setUp(LOOPBACK_INDEX);
              int index = pod.index(ifname);
              pod.addAddress(index, ip, 32);
              pod.setUp(index);
              pod.addRoute(
                  false,
                  PodAttachment.GATEWAY,
                  32,
                  Optional.empty(),
                  index,
                  RtNetlink.SCOPE_LINK,
                  RtNetlink.PROTO_BOOT);
              pod.addRoute(
                  false,
                  "0.0.0.0",
                  0,
                  Optional.of(PodAttachment.GATEWAY),
                  index,
                  RtNetlink.SCOPE_UNIVERSE,
                  RtNetlink.PROTO_BOOT);
            }
            return null;
          });
    } catch (Exception e) {
      detach(hostIf);
      throw new CniException(
          CniException.DATAPLANE_FAILURE,
          "cannot configure pod interface " + ifname,
          e.getMessage());
    }
    return new PodAttachment(hostIf, PodAttachment.HOST_MAC, ifname, podMac, netnsPath, ip);
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

  /** Verifies the pod side still has its address and default route. */
  public void check(NetnsFd podNs, String ifname, String ip) throws CniException {
    try {
      NetworkNamespace.call(podNs, () -> checkHere(ifname, ip));
    } catch (CniException e) {
      throw e;
    } catch (Exception e) {
      throw new CniException(
          CniException.CHECK_FAILED, "cannot inspect " + ifname + " in the pod", e.getMessage());
    }
  }

  /** The check, run by a thread inside the pod's namespace (the {@code ip} it starts is too). */
  private static Void checkHere(String ifname, String ip) throws CniException {
    IpTool pod = IpTool.here();
    JsonNode addrs = pod.json("ip", "addr", "show", "dev", ifname);
    boolean hasIp = false;
    for (JsonNode a : addrs.path(0).path("addr_info")) {
      hasIp |= ip.equals(a.path("local").asText()) && a.path("prefixlen").asInt() == 32;
    }
    if (!hasIp) {
      throw new CniException(CniException.CHECK_FAILED, ifname + " does not hold " + ip + "/32");
    }
    JsonNode routes = pod.json("ip", "route", "show", "default");
    boolean hasDefault = false;
    for (JsonNode r : routes) {
      hasDefault |= PodAttachment.GATEWAY.equals(r.path("gateway").asText());
    }
    if (!hasDefault) {
      throw new CniException(
          CniException.CHECK_FAILED, "no default route via " + PodAttachment.GATEWAY);
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
