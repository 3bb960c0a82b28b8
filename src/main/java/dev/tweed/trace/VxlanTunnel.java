package dev.tweed.trace;

import dev.tweed.kernel.BridgeFdbEntry;
import dev.tweed.kernel.Link;
import dev.tweed.kernel.NetnsState;
import dev.tweed.kernel.Packet;
import dev.tweed.kernel.RouteDecision;
import dev.tweed.kernel.RouteEntry;
import dev.tweed.kernel.RoutingTable;
import dev.tweed.model.Ipv4;
import java.util.List;
import java.util.Optional;

/**
 * A VXLAN device: the inner frame's MAC names the remote end in the fdb, the outer UDP packet is
 * sent by the node's own stack; at the far end the UDP port's socket decapsulates it onto the
 * device.
 */
final class VxlanTunnel {
  private final Endings endings;
  private final NeighbourResolver neighbours;
  private final IpStack stack;

  VxlanTunnel(Endings endings, NeighbourResolver neighbours, IpStack stack) {
    this.endings = endings;
    this.neighbours = neighbours;
    this.stack = stack;
  }

  List<Outcome> encapsulate(NetnsState ns, Walk w, Link vx, String nextHop) {
    Optional<NeighbourResolver.Resolved> mac = neighbours.resolve(ns, vx, nextHop);
    if (mac.isEmpty()) {
      return List.of(
          endings.end(w, "dropped", "no neighbour entry for " + nextHop + " on " + vx.name()));
    }
    w =
        w.withMac(mac.get().mac())
            .hop(Hop.of(ns.name(), "neighbour", Optional.of(vx.name()), mac.get().how()));
    String m = mac.get().mac();
    Optional<BridgeFdbEntry> fdb =
        ns.fdb().stream()
            .filter(
                f ->
                    f.dev().equals(vx.name()) && f.dst().isPresent() && f.mac().equalsIgnoreCase(m))
            .findFirst()
            .or(
                () ->
                    ns.fdb().stream()
                        .filter(
                            f ->
                                f.dev().equals(vx.name())
                                    && f.dst().isPresent()
                                    && f.mac().equals("00:00:00:00:00:00"))
                        .findFirst());
    if (fdb.isEmpty()) {
      return List.of(
          endings.end(
              w.hop(Hop.of(ns.name(), "fdb", Optional.of(vx.name()), "no fdb entry for " + m)),
              "dropped",
              "VXLAN " + vx.name() + ": no fdb entry says which node has " + m));
    }
    Link.Vxlan info = vx.vxlan().get();
    String remote = fdb.get().dst().get();
    int local =
        info.local()
            .map(Ipv4::parse)
            .orElseGet(
                () -> {
                  RouteDecision r =
                      RoutingTable.decide(ns, 0, Ipv4.parse(remote), 0, "lo", Optional.empty());
                  return r.route().flatMap(RouteEntry::prefsrc).map(Ipv4::parse).orElse(0);
                });
    Packet outer =
        new Packet(local, Ipv4.parse(remote), "udp", 0, info.port(), w.packet().mark(), 0, 64);
    Walk e =
        w.hop(
                Hop.of(
                    ns.name(),
                    "vxlan-encap",
                    Optional.of(vx.name()),
                    "fdb: "
                        + m
                        + " is at "
                        + remote
                        + "; encapsulated in UDP "
                        + Ipv4.format(local)
                        + " > "
                        + remote
                        + ":"
                        + info.port()
                        + " (VNI "
                        + info.vni()
                        + ", source port a hash of the inner flow)"))
            .encapsulate(outer, ns.name());
    return stack.localOut(ns, e);
  }

  List<Outcome> decapsulate(NetnsState ns, Walk w, Link vx) {
    Walk d = w.decapsulate();
    d =
        d.hop(
            Hop.of(
                ns.name(),
                "vxlan-decap",
                Optional.of(vx.name()),
                "VXLAN port "
                    + vx.vxlan().get().port()
                    + " decapsulates "
                    + d.packet()
                    + " onto "
                    + vx.name()));
    String mac = d.dstMac().orElse("");
    if (!mac.isEmpty() && !mac.equalsIgnoreCase(vx.mac())) {
      return List.of(
          endings.end(
              d,
              "dropped",
              "the inner frame is for " + mac + ", not " + vx.name() + "'s " + vx.mac()));
    }
    return stack.receive(ns, d.enterNamespace(ns.name(), ns.name()), vx.name());
  }
}
