package dev.tweed.cni;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.dataplane.IpTool;
import dev.tweed.model.Route;
import dev.tweed.sys.Command;
import dev.tweed.sys.CommandFailedException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.List;

/**
 * Connects a pod's network namespace to the node, Calico-style: a veth pair whose pod end holds the
 * pod's /32 and a default route via 169.254.1.1, and whose host end answers that gateway by
 * proxy-ARP and receives the pod's /32 route. Runs in the node's namespace.
 */
public final class VethPlumbing {
  private static final SecureRandom RANDOM = new SecureRandom();
  private final IpTool host = IpTool.here();
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
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  public PodAttachment attach(
      String containerId, String ifname, String netnsPath, String ip, String podMac)
      throws CniException {
    String hostIf = hostInterfaceName(containerId, ifname);
    try {
      host.batch(
          "ip",
          List.of(
              "link add name "
                  + hostIf
                  + " address "
                  + PodAttachment.HOST_MAC
                  + " mtu "
                  + mtu
                  + " type veth peer name "
                  + ifname
                  + " address "
                  + podMac
                  + " mtu "
                  + mtu
                  + " netns "
                  + netnsPath,
              "link set " + hostIf + " up",
              "route replace " + ip + "/32 dev " + hostIf + " scope link proto " + Route.PROTOCOL));
    } catch (CommandFailedException e) {
      throw new CniException(
          CniException.DATAPLANE_FAILURE, "cannot create veth " + hostIf, e.getMessage());
    }
    try {
      sysctl("net/ipv4/conf/" + hostIf + "/proxy_arp", "1");
      // The kernel delays proxy-ARP replies by up to 0.8 s unless told otherwise.
      sysctl("net/ipv4/neigh/" + hostIf + "/proxy_delay", "0");
      sysctl("net/ipv4/conf/" + hostIf + "/forwarding", "1");
      IpTool.in(netnsPath)
          .batch(
              "ip",
              List.of(
                  "link set lo up",
                  "addr add " + ip + "/32 dev " + ifname,
                  "link set " + ifname + " up",
                  "route add " + PodAttachment.GATEWAY + " dev " + ifname + " scope link",
                  "route add default via " + PodAttachment.GATEWAY + " dev " + ifname));
    } catch (IOException | CommandFailedException e) {
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
    Command.Result r = Command.exec(List.of("ip", "link", "del", hostIf), "", java.util.Map.of());
    if (!r.ok() && !r.stderr().contains("Cannot find device")) {
      throw new CommandFailedException(
          List.of("ip", "link", "del", hostIf), "", r.exitCode(), r.stderr());
    }
  }

  public boolean hostInterfaceExists(String hostIf) {
    return Files.exists(Path.of("/sys/class/net", hostIf));
  }

  /** Verifies the pod side still has its address and default route. */
  public void check(String netnsPath, String ifname, String ip) throws CniException {
    try {
      IpTool pod = IpTool.in(netnsPath);
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
    } catch (CommandFailedException e) {
      throw new CniException(
          CniException.CHECK_FAILED,
          "cannot inspect " + ifname + " in " + netnsPath,
          e.getMessage());
    }
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
