package dev.tweed.calc;

import dev.tweed.model.BgpConfiguration;
import dev.tweed.model.IpAddress;
import dev.tweed.model.IpFamily;
import dev.tweed.model.IpamBlock;
import dev.tweed.model.Ipv4;
import dev.tweed.model.NodeResource;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * BIRD 2's configuration for one node, from the datastore (what confd renders on a Calico node):
 * the node's IPAM blocks as blackhole static routes (so an unallocated address of a local block is
 * dropped here, not sent to the default gateway, and so that BGP has them to announce), a kernel
 * protocol that installs the blackholes and the routes peers announce ({@code proto bird}), and one
 * iBGP session per peer: every other node in a full mesh, or with route reflectors, the reflectors
 * for a client and everyone for a reflector.
 */
public final class BirdConfigRenderer {
  private BirdConfigRenderer() {}

  /** An IPv4 cluster's configuration. */
  public static String render(
      String nodeName, List<NodeResource> nodes, List<IpamBlock> blocks, BgpConfiguration bgp) {
    return render(nodeName, nodes, blocks, bgp, Set.of(IpFamily.IPV4));
  }

  /**
   * The configuration for the cluster's {@code families}: per family this node has an underlay
   * address of, its blocks, a kernel protocol, and a session per peer between the two nodes'
   * addresses of that family (Calico's choice too: IPv6 routes over IPv6 sessions, whose next hop
   * is the peer's IPv6 address, rather than an IPv6 channel on the IPv4 session, whose next hop
   * would need an IPv6 address the session does not carry). The IPv4 names are those of an
   * IPv4-only node; IPv6's add a {@code 6}.
   */
  public static String render(
      String nodeName,
      List<NodeResource> nodes,
      List<IpamBlock> blocks,
      BgpConfiguration bgp,
      Set<IpFamily> families) {
    NodeResource self =
        nodes.stream()
            .filter(n -> n.name().equals(nodeName))
            .findFirst()
            .orElseThrow(() -> new IllegalArgumentException("no node " + nodeName));
    List<IpFamily> here =
        new TreeSet<>(families).stream().filter(f -> self.internalIp(f).isPresent()).toList();
    StringBuilder sb = new StringBuilder();
    sb.append("# Rendered by the Tweed agent for ").append(nodeName).append(". Do not edit.\n");
    sb.append("router id ").append(routerId(self)).append(";\n");
    if (bgp.gracefulRestart()) {
      // A BIRD restarted after a crash keeps the kernel's routes until its sessions are back,
      // but no longer than this: a peer that died meanwhile never comes back.
      sb.append("graceful restart wait ").append(bgp.restartSeconds() + 3).append(";\n");
    }
    sb.append('\n');
    sb.append("protocol device {\n  scan time 10;\n}\n\n");
    for (IpFamily f : here) {
      sb.append("# This node's IPAM blocks.\nprotocol static ")
          .append(blocksName(f))
          .append(" {\n  ")
          .append(channel(f))
          .append(";\n");
      blocks.stream()
          .filter(b -> b.node().equals(nodeName) && b.cidr().family() == f)
          .map(IpamBlock::cidr)
          .sorted()
          .forEach(c -> sb.append("  route ").append(c).append(" blackhole;\n"));
      sb.append("}\n\n");
      sb.append(
          f == IpFamily.IPV4
              ? """
                # Into the kernel: the blackholes and what peers announce; nothing read back. The routes
                # persist when BIRD stops, so that an agent restart drops no packet.
                protocol kernel {
                """
              : "# The same for IPv6.\nprotocol kernel kernel6 {\n");
      sb.append("  ")
          .append(channel(f))
          .append(" {\n    import none;\n    export where proto = \"")
          .append(blocksName(f))
          .append("\" || source = RTS_BGP;\n  };\n  merge paths on;\n  persist;\n");
      if (bgp.gracefulRestart()) {
        // After a crash, keep the kernel's routes until the sessions are back.
        sb.append("  graceful restart on;\n");
      }
      sb.append("}\n\n");
    }
    if (bgp.bfdIntervalMs() > 0) {
      sb.append("protocol bfd {\n  interface \"*\" {\n")
          .append("    min rx interval ")
          .append(bgp.bfdIntervalMs())
          .append(" ms;\n    min tx interval ")
          .append(bgp.bfdIntervalMs())
          .append(" ms;\n    multiplier ")
          .append(bgp.bfdMultiplier())
          .append(";\n  };\n}\n\n");
    }
    boolean reflector = bgp.routeReflectors().contains(nodeName);
    for (NodeResource peer : nodes) {
      if (peer.name().equals(nodeName)) {
        continue;
      }
      boolean peerReflects = bgp.routeReflectors().contains(peer.name());
      if (!bgp.fullMesh() && !reflector && !peerReflects) {
        continue; // a client peers with reflectors only
      }
      Optional<String> role =
          reflector && !peerReflects ? Optional.of("route reflector client") : Optional.empty();
      for (IpFamily f : here) {
        if (peer.internalIp(f).isPresent()) {
          session(sb, self, peer, f, bgp, reflector, role);
        }
      }
    }
    return sb.toString();
  }

  private static void session(
      StringBuilder sb,
      NodeResource self,
      NodeResource peer,
      IpFamily f,
      BgpConfiguration bgp,
      boolean reflector,
      Optional<String> role) {
    sb.append("protocol bgp ")
        .append(sessionName(peer.name()))
        .append(f == IpFamily.IPV4 ? "" : "_v6")
        .append(" {\n")
        .append("  description \"")
        .append(peer.name())
        .append(f == IpFamily.IPV4 ? "" : " (IPv6)")
        .append(role.map(r -> ", " + r).orElse(""))
        .append("\";\n")
        .append("  local ")
        .append(self.internalIp(f).orElseThrow())
        .append(" as ")
        .append(bgp.asNumber())
        .append(";\n")
        .append("  neighbor ")
        .append(peer.internalIp(f).orElseThrow())
        .append(" as ")
        .append(bgp.asNumber())
        .append(";\n")
        .append("  direct;\n")
        .append("  hold time ")
        .append(bgp.holdSeconds())
        .append(";\n  keepalive time ")
        .append(bgp.keepaliveSeconds())
        .append(";\n")
        // Reconnect at once, also after an error (BIRD's defaults wait 5 s and 60 s).
        .append("  connect delay time 1;\n  connect retry time 1;\n  error wait time 1, 5;\n");
    if (bgp.bfdIntervalMs() > 0) {
      // With graceful restart, a BFD failure starts a restart rather than a hard down: a
      // crashed BIRD that comes back in time costs no route, a dead node's go after the
      // restart time.
      sb.append(bgp.gracefulRestart() ? "  bfd graceful;\n" : "  bfd on;\n");
    }
    sb.append("  graceful restart ").append(bgp.gracefulRestart() ? "on" : "off").append(";\n");
    if (bgp.gracefulRestart()) {
      sb.append("  graceful restart time ").append(bgp.restartSeconds()).append(";\n");
    }
    if (role.isPresent()) {
      sb.append("  rr client;\n  rr cluster id ").append(routerId(self)).append(";\n");
    }
    sb.append("  ").append(channel(f)).append(" {\n    import all;\n");
    // Our blocks go out with our address as next hop (BIRD's choice for a route without one);
    // a reflector passes the others' routes on unchanged, next hop the node that owns them.
    String blocks = blocksName(f);
    sb.append(
        reflector
            ? "    export where proto = \"" + blocks + "\" || source = RTS_BGP;\n"
            : "    export where proto = \"" + blocks + "\";\n");
    sb.append("  };\n}\n\n");
  }

  private static String channel(IpFamily f) {
    return f == IpFamily.IPV4 ? "ipv4" : "ipv6";
  }

  private static String blocksName(IpFamily f) {
    return f == IpFamily.IPV4 ? "blocks" : "blocks6";
  }

  /**
   * BGP identifiers are 32 bits, written as IPv4 addresses: the node's IPv4 address, or for a node
   * with none a stable number derived from its IPv6 one.
   */
  static String routerId(NodeResource node) {
    return node.internalIp(IpFamily.IPV4)
        .orElseGet(
            () -> {
              IpAddress a = IpAddress.parse(node.internalIp());
              return Ipv4.format((int) (a.low() ^ (a.low() >>> 32) ^ a.high()) | 1);
            });
  }

  /** A BIRD protocol name for a peer: letters, digits and underscores only. */
  static String sessionName(String node) {
    return "peer_" + node.replaceAll("[^A-Za-z0-9]", "_");
  }
}
