package dev.tweed.trace;

import dev.tweed.kernel.BridgeFdbEntry;
import dev.tweed.kernel.Link;
import dev.tweed.kernel.NetnsState;
import dev.tweed.kernel.Packet;
import dev.tweed.kernel.RouteDecision;
import dev.tweed.kernel.RouteEntry;
import dev.tweed.kernel.RoutingTable;
import dev.tweed.model.IpAddress;
import dev.tweed.trace.bpf.TcAction;
import java.util.List;
import java.util.Optional;

/**
 * A VXLAN device: the inner frame's MAC names the remote end in the fdb, the outer UDP packet is
 * sent by the node's own stack; at the far end the UDP port's socket decapsulates it onto the
 * device.
 */
final class VxlanTunnel {
  private final TraceWorld world;
  private final Endings endings;
  private final NeighbourResolver neighbours;
  private final TcHooks tc;
  private final IpStack stack;

  VxlanTunnel(
      TraceWorld world, Endings endings, NeighbourResolver neighbours, TcHooks tc, IpStack stack) {
    this.world = world;
    this.endings = endings;
    this.neighbours = neighbours;
    this.tc = tc;
    this.stack = stack;
  }

  /**
   * The device sends the inner frame: its neighbour (unless a program redirected an addressed frame
   * here), its tc egress hook, then the remote end: the fdb's, or in collect-metadata mode the
   * tunnel key's.
   */
  List<Outcome> encapsulate(
      NetnsState ns,
      Walk w,
      Link vx,
      String nextHop,
      Optional<TcAction.TunnelKey> key,
      boolean resolveNeighbour) {
    if (resolveNeighbour) {
      Optional<NeighbourResolver.Resolved> mac = neighbours.resolve(ns, vx, nextHop);
      if (mac.isEmpty()) {
        return List.of(
            endings.end(w, "dropped", "no neighbour entry for " + nextHop + " on " + vx.name()));
      }
      w =
          w.withMac(mac.get().mac())
              .hop(Hop.of(ns.name(), "neighbour", Optional.of(vx.name()), mac.get().how()));
    }
    return tc.egress(ns, w, vx, key, (a, k) -> toRemote(ns, a, vx, k));
  }

  private List<Outcome> toRemote(NetnsState ns, Walk w, Link vx, Optional<TcAction.TunnelKey> key) {
    Link.Vxlan info = vx.vxlan().get();
    if (info.external()) {
      if (key.isEmpty()) {
        return List.of(
            endings.end(
                w,
                "dropped",
                "VXLAN " + vx.name() + " takes its remote from a tunnel key, and none was set"));
      }
      String remote = key.get().remote();
      return send(
          ns,
          w,
          vx,
          remote,
          key.get().vni(),
          "tunnel key: remote " + remote + ", VNI " + key.get().vni());
    }
    String m = w.dstMac().orElse("");
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
    String remote = fdb.get().dst().get();
    return send(ns, w, vx, remote, info.vni(), "fdb: " + m + " is at " + remote);
  }

  /** The outer UDP packet, sent by the node's own stack. */
  private List<Outcome> send(NetnsState ns, Walk w, Link vx, String remote, int vni, String why) {
    Link.Vxlan info = vx.vxlan().get();
    // The underlay's family is the remote's: an IPv6 pod's packet crosses tweed.vxlan6 over IPv6.
    IpAddress to = IpAddress.parse(remote);
    IpAddress any = IpAddress.unspecified(to.family());
    IpAddress local =
        info.local()
            .map(IpAddress::parse)
            .orElseGet(
                () -> {
                  // The route's preferred source, else (IPv6 routes seldom name one) the first
                  // address of the family on the way out, as the kernel's source selection.
                  RouteDecision r = RoutingTable.decide(ns, any, to, 0, "lo", Optional.empty());
                  return r.route()
                      .flatMap(RouteEntry::prefsrc)
                      .or(
                          () ->
                              r.route()
                                  .flatMap(x -> x.nexthops().stream().findFirst())
                                  .flatMap(RouteEntry.Nexthop::dev)
                                  .flatMap(ns::link)
                                  .flatMap(l -> l.firstAddress(to.family())))
                      .map(IpAddress::parse)
                      .orElse(any);
                });
    Packet outer = new Packet(local, to, "udp", 0, info.port(), w.packet().mark(), 0, 64);
    Walk e =
        w.hop(
                Hop.of(
                    ns.name(),
                    "vxlan-encap",
                    Optional.of(vx.name()),
                    why
                        + "; encapsulated in UDP "
                        + local
                        + " > "
                        + IpAddress.hostPort(remote, info.port())
                        + " (VNI "
                        + vni
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
    // A program on the device's ingress decides for itself what the frame is for (it retypes
    // frames addressed to the sender's idea of a next hop as for this host).
    boolean programDecides = world.bpf(ns.name()).attached(vx.name(), "ingress").isPresent();
    if (!programDecides && !mac.isEmpty() && !mac.equalsIgnoreCase(vx.mac())) {
      return List.of(
          endings.end(
              d,
              "dropped",
              "the inner frame is for " + mac + ", not " + vx.name() + "'s " + vx.mac()));
    }
    return stack.receive(ns, d.enterNamespace(ns.name(), ns.name()), vx.name());
  }
}
