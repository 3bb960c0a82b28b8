package dev.tweed.calc;

import dev.tweed.model.BgpConfiguration;
import dev.tweed.model.IpamBlock;
import dev.tweed.model.NodeResource;
import java.util.List;
import java.util.Optional;

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

  public static String render(
      String nodeName, List<NodeResource> nodes, List<IpamBlock> blocks, BgpConfiguration bgp) {
    NodeResource self =
        nodes.stream()
            .filter(n -> n.name().equals(nodeName))
            .findFirst()
            .orElseThrow(() -> new IllegalArgumentException("no node " + nodeName));
    StringBuilder sb = new StringBuilder();
    sb.append("# Rendered by the Tweed agent for ").append(nodeName).append(". Do not edit.\n");
    sb.append("router id ").append(self.internalIp()).append(";\n");
    if (bgp.gracefulRestart()) {
      // A BIRD restarted after a crash keeps the kernel's routes until its sessions are back,
      // but no longer than this: a peer that died meanwhile never comes back.
      sb.append("graceful restart wait ").append(bgp.restartSeconds() + 3).append(";\n");
    }
    sb.append('\n');
    sb.append("protocol device {\n  scan time 10;\n}\n\n");
    sb.append("# This node's IPAM blocks.\nprotocol static blocks {\n  ipv4;\n");
    blocks.stream()
        .filter(b -> b.node().equals(nodeName))
        .map(b -> b.cidr().toString())
        .sorted()
        .forEach(c -> sb.append("  route ").append(c).append(" blackhole;\n"));
    sb.append("}\n\n");
    sb.append(
        """
        # Into the kernel: the blackholes and what peers announce; nothing read back. The routes
        # persist when BIRD stops, so that an agent restart drops no packet.
        protocol kernel {
          ipv4 {
            import none;
            export where proto = "blocks" || source = RTS_BGP;
          };
          merge paths on;
          persist;
        """);
    if (bgp.gracefulRestart()) {
      // After a crash, keep the kernel's routes until the sessions are back.
      sb.append("  graceful restart on;\n");
    }
    sb.append("}\n\n");
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
      sb.append("protocol bgp ")
          .append(sessionName(peer.name()))
          .append(" {\n")
          .append("  description \"")
          .append(peer.name())
          .append(role.map(r -> ", " + r).orElse(""))
          .append("\";\n")
          .append("  local ")
          .append(self.internalIp())
          .append(" as ")
          .append(bgp.asNumber())
          .append(";\n")
          .append("  neighbor ")
          .append(peer.internalIp())
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
        sb.append("  rr client;\n  rr cluster id ").append(self.internalIp()).append(";\n");
      }
      sb.append("  ipv4 {\n    import all;\n");
      // Our blocks go out with our address as next hop (BIRD's choice for a route without one);
      // a reflector passes the others' routes on unchanged, next hop the node that owns them.
      sb.append(
          reflector
              ? "    export where proto = \"blocks\" || source = RTS_BGP;\n"
              : "    export where proto = \"blocks\";\n");
      sb.append("  };\n}\n\n");
    }
    return sb.toString();
  }

  /** A BIRD protocol name for a peer: letters, digits and underscores only. */
  static String sessionName(String node) {
    return "peer_" + node.replaceAll("[^A-Za-z0-9]", "_");
  }
}
