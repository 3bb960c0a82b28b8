package dev.tweed.trace;

import dev.tweed.kernel.Link;
import dev.tweed.kernel.NetnsState;
import dev.tweed.kernel.Packet;
import dev.tweed.model.IpFamily;
import java.util.List;
import java.util.Optional;

/**
 * The end of a packet's way up the stack: a connection's socket, a listening socket, the kernel's
 * own answer (echo reply, TCP reset, ICMP port unreachable), or a VXLAN port's decapsulation.
 */
final class SocketDelivery {
  private final TraceWorld world;
  private final Endings endings;
  private final VxlanTunnel vxlan;

  SocketDelivery(TraceWorld world, Endings endings, VxlanTunnel vxlan) {
    this.world = world;
    this.endings = endings;
    this.vxlan = vxlan;
  }

  List<Outcome> deliver(NetnsState ns, Walk w, String iif) {
    Packet p = w.packet();
    if (w.reply() && w.entry(ns.name()).isPresent() && ns.owner(p.dstIp()).isPresent()) {
      String who = world.label(ns.name());
      return List.of(
          endings.end(
              w.hop(
                  Hop.of(
                      ns.name(),
                      "deliver",
                      Optional.of(iif),
                      "the reply reaches the connection's socket in " + who)),
              "delivered",
              "the reply reaches " + who + " at " + p.dstEndpoint()));
    }
    if (p.proto().equals("udp") && w.inner().isPresent()) {
      Optional<Link> vx =
          ns.links().stream()
              .filter(
                  l ->
                      l.vxlan().isPresent()
                          && l.vxlan().get().port() == p.dport()
                          && l.vxlan().get().local().map(a -> a.equals(p.dstIp())).orElse(true))
              .findFirst();
      if (vx.isPresent()) {
        return vxlan.decapsulate(ns, w, vx.get());
      }
    }
    String who = world.label(ns.name());
    if (p.proto().equals("icmp") || p.proto().equals("icmpv6")) {
      return List.of(
          endings.end(
              w.hop(
                  Hop.of(
                      ns.name(), "deliver", Optional.of(iif), "echo request delivered to " + who)),
              "delivered",
              "delivered to " + who + " (the kernel answers the echo request)"));
    }
    boolean listening =
        ns.listeners().stream().anyMatch(l -> l.accepts(p.dstIp(), p.proto(), p.dport()));
    if (listening) {
      return List.of(
          endings.end(
              w.hop(
                  Hop.of(
                      ns.name(),
                      "deliver",
                      Optional.of(iif),
                      "delivered to a socket on " + p.proto() + " " + p.dstEndpoint())),
              "delivered",
              "delivered to " + who + ":" + p.dport()));
    }
    String answer =
        p.proto().equals("tcp")
            ? "nothing listens on tcp port " + p.dport() + ": the kernel answers with a TCP reset"
            : "nothing listens on "
                + p.proto()
                + " port "
                + p.dport()
                + (p.family() == IpFamily.IPV4
                    ? ": the kernel answers ICMP port unreachable"
                    : ": the kernel answers ICMPv6 port unreachable");
    return List.of(
        endings.end(
            w.hop(Hop.of(ns.name(), "reject", Optional.of(iif), answer)),
            "rejected",
            who + ": " + answer));
  }
}
