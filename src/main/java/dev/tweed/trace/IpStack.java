package dev.tweed.trace;

import dev.tweed.kernel.Link;
import dev.tweed.kernel.NetnsState;
import dev.tweed.kernel.Packet;
import dev.tweed.kernel.RouteDecision;
import dev.tweed.kernel.RouteEntry;
import dev.tweed.kernel.RoutingTable;
import dev.tweed.model.IpFamily;
import dev.tweed.trace.bpf.TcAction;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A namespace's IPv4 stack, the spine of a journey: local output, receive, input routing,
 * forwarding, local input and transmit, in the order the kernel runs them. Each stage it reaches
 * (routing, netfilter hooks, neighbours, bridges, VXLAN, sockets) is its own class; this one only
 * says which comes after which.
 */
final class IpStack {
  private final TraceWorld world;
  private final Endings endings;
  private final RoutingDecisions routing;
  private final NetfilterHooks hooks;
  private final NeighbourResolver neighbours;
  private final BridgeCrossing bridges;
  private final VxlanTunnel vxlan;
  private final SocketDelivery sockets;
  private final TcHooks tc;

  IpStack(TraceWorld world) {
    this.world = world;
    this.endings = new Endings(world);
    this.routing = new RoutingDecisions(world, endings);
    this.hooks = new NetfilterHooks(world, endings);
    this.neighbours = new NeighbourResolver(world);
    this.bridges = new BridgeCrossing(world, endings, hooks, this);
    this.tc = new TcHooks(world, endings, this);
    this.vxlan = new VxlanTunnel(world, endings, neighbours, tc, this);
    this.sockets = new SocketDelivery(world, endings, vxlan);
  }

  List<Outcome> localOut(NetnsState ns, Walk w) {
    Optional<Outcome> loop = endings.loop(w);
    if (loop.isPresent()) {
      return List.of(loop.get());
    }
    Packet p = w.packet();
    RouteDecision rd = RoutingTable.decide(ns, p.src(), p.dst(), p.mark(), "lo", Optional.empty());
    w = w.hop(routing.routeHop(ns, rd, "output"));
    Optional<Outcome> fail = routing.routeFailure(ns, w, rd, true);
    if (fail.isPresent()) {
      return List.of(fail.get());
    }
    List<Outcome> out = new ArrayList<>();
    for (var branch : routing.multipath(ns, w, rd)) {
      out.addAll(localOutVia(ns, branch.walk(), branch.route(), p));
    }
    return out;
  }

  private List<Outcome> localOutVia(NetnsState ns, Walk w, RouteDecision rd, Packet p) {
    String oif = RoutingDecisions.outIface(rd);
    return hooks
        .run(ns, w, "OUTPUT", Optional.empty(), Optional.of(oif))
        .then(r -> afterOutput(ns, ConntrackNat.unSnat(ns, r), rd, p));
  }

  private List<Outcome> afterOutput(NetnsState ns, Walk a, RouteDecision rd, Packet p) {
    RouteDecision rd2 = rd;
    if (!a.packet().dst().equals(p.dst()) || a.packet().mark() != p.mark()) {
      // The kernel routes again after OUTPUT changed the destination or the mark.
      rd2 =
          RoutingTable.decide(
              ns, a.packet().src(), a.packet().dst(), a.packet().mark(), "lo", Optional.empty());
      a = a.hop(routing.routeHop(ns, rd2, "output, again after OUTPUT changed the packet"));
      Optional<Outcome> f2 = routing.routeFailure(ns, a, rd2, true);
      if (f2.isPresent()) {
        return List.of(f2.get());
      }
    }
    RouteDecision route = rd2;
    String oif = RoutingDecisions.outIface(route);
    return hooks
        .run(ns, a, "POSTROUTING", Optional.empty(), Optional.of(oif))
        .then(
            r ->
                route.type().equals("local")
                    ? loopback(ns, r)
                    : transmit(ns, ConntrackNat.unDnat(ns, r), route, oif, Optional.empty()));
  }

  /** A packet to one of the namespace's own addresses goes round through {@code lo}. */
  private List<Outcome> loopback(NetnsState ns, Walk w) {
    w = w.hop(Hop.of(ns.name(), "loopback", Optional.of("lo"), "to a local address: through lo"));
    // NAT was decided in OUTPUT and POSTROUTING; the nat tables do not see the packet again.
    return hooks
        .run(ns, w, "PREROUTING", Optional.of("lo"), Optional.empty(), true)
        .then(r -> inputAndDeliver(ns, r, "lo", true));
  }

  List<Outcome> receive(NetnsState ns, Walk w, String iif) {
    Optional<Outcome> loop = endings.loop(w);
    if (loop.isPresent()) {
      return List.of(loop.get());
    }
    Link link = ns.link(iif).orElseThrow();
    if (!link.up()) {
      return List.of(endings.end(w, "dropped", iif + " in " + world.label(ns.name()) + " is down"));
    }
    return tc.ingress(ns, w, link, a -> afterIngressHook(ns, a, link));
  }

  /**
   * Past the device's tc ingress: a bridge port's frame goes to its bridge, others up the stack.
   */
  private List<Outcome> afterIngressHook(NetnsState ns, Walk w, Link link) {
    if (link.master().isPresent()) {
      return bridges.bridgeIn(ns, w, link);
    }
    String iif = link.name();
    return hooks
        .run(ns, w, "PREROUTING", Optional.of(iif), Optional.empty())
        .then(r -> routeIn(ns, ConntrackNat.unSnat(ns, r), iif));
  }

  /** Input routing and what follows, after PREROUTING. */
  List<Outcome> routeIn(NetnsState ns, Walk a, String iif) {
    Packet p = a.packet();
    RouteDecision rd = RoutingTable.decide(ns, p.src(), p.dst(), p.mark(), iif, Optional.empty());
    a = a.hop(routing.routeHop(ns, rd, "input from " + iif));
    Optional<Outcome> fail = routing.routeFailure(ns, a, rd, false);
    if (fail.isPresent()) {
      return List.of(fail.get());
    }
    if (rd.type().equals("local") || rd.type().equals("broadcast")) {
      Optional<Outcome> rp = routing.rpFilter(ns, a, iif);
      if (rp.isPresent()) {
        return List.of(rp.get());
      }
      return inputAndDeliver(ns, a, iif, false);
    }
    List<Outcome> out = new ArrayList<>();
    for (var branch : routing.multipath(ns, a, rd)) {
      out.addAll(forward(ns, branch.walk(), iif, branch.route()));
    }
    return out;
  }

  private List<Outcome> forward(NetnsState ns, Walk w, String iif, RouteDecision rd) {
    if (!ns.forwarding(w.packet().family())) {
      String sysctl =
          w.packet().family() == IpFamily.IPV4
              ? "net.ipv4.ip_forward=0"
              : "net.ipv6.conf.all.forwarding=0";
      return List.of(
          endings.end(
              w.hop(Hop.of(ns.name(), "drop", Optional.of(iif), sysctl)),
              "dropped",
              "forwarding is off in " + world.label(ns.name()) + " (" + sysctl + ")"));
    }
    Optional<Outcome> rp = routing.rpFilter(ns, w, iif);
    if (rp.isPresent()) {
      return List.of(rp.get());
    }
    Walk a = w.withPacket(w.packet().decrementTtl());
    if (a.packet().ttl() <= 0) {
      return List.of(endings.end(a, "rejected", "TTL exceeded (ICMP time exceeded sent back)"));
    }
    String oif = RoutingDecisions.outIface(rd);
    HookResult forwarded = hooks.run(ns, a, "FORWARD", Optional.of(iif), Optional.of(oif));
    boolean redirect = iif.equals(oif) && sendsRedirects(ns, iif);
    List<Outcome> out = new ArrayList<>();
    for (Outcome o : forwarded.ended()) {
      out.add(
          redirect && o.verdict().equals("rejected") ? Endings.withNote(o, redirectNote(iif)) : o);
    }
    for (Walk b : forwarded.continuing()) {
      if (redirect) {
        b =
            b.hop(
                Hop.of(
                    ns.name(),
                    "note",
                    Optional.of(iif),
                    "routed back out of "
                        + iif
                        + ": the kernel also sends the sender an ICMP redirect"));
      }
      out.addAll(
          hooks
              .run(ns, b, "POSTROUTING", Optional.of(iif), Optional.of(oif))
              .then(r -> transmit(ns, ConntrackNat.unDnat(ns, r), rd, oif, Optional.of(iif))));
    }
    return out;
  }

  private static boolean sendsRedirects(NetnsState ns, String iface) {
    return ns.confAll("send_redirects").orElse(1) == 1
        || ns.conf(iface, "send_redirects").orElse(1) == 1;
  }

  private static String redirectNote(String iface) {
    return "the packet came in and would go out on "
        + iface
        + ": the kernel sends an ICMP redirect first, and the per-peer ICMP rate limit may then"
        + " swallow the reject's error, so the client may time out instead of being refused"
        + " (not so with send_redirects=0)";
  }

  private List<Outcome> inputAndDeliver(NetnsState ns, Walk w, String iif, boolean natDecided) {
    return hooks
        .run(ns, w, "INPUT", Optional.of(iif), Optional.empty(), natDecided)
        .then(r -> sockets.deliver(ns, ConntrackNat.unDnat(ns, r), iif));
  }

  private List<Outcome> transmit(
      NetnsState ns, Walk w, RouteDecision rd, String oif, Optional<String> iif) {
    Link link = ns.link(oif).orElse(null);
    if (link == null) {
      return List.of(endings.end(w, "dropped", "route names " + oif + ", which does not exist"));
    }
    if (!link.up()) {
      return List.of(endings.end(w, "dropped", oif + " is down"));
    }
    RouteEntry.Nexthop nh = rd.route().orElseThrow().nexthops().get(0);
    String nextHop = nh.gateway().orElse(w.packet().dstIp());
    if (link.isLoopback()) {
      return loopback(ns, w);
    }
    return fromDevice(ns, w, link, nextHop, Optional.empty(), true);
  }

  /**
   * The device sends the packet to {@code nextHop}: its neighbour resolved (unless a program
   * redirected an already addressed frame), its tc egress hook, then the wire: a veth's peer, a
   * bridge's port, the VXLAN tunnel, or out of the capture.
   */
  List<Outcome> fromDevice(
      NetnsState ns,
      Walk w,
      Link link,
      String nextHop,
      Optional<TcAction.TunnelKey> key,
      boolean resolveNeighbour) {
    String oif = link.name();
    if (link.vxlan().isPresent()) {
      return vxlan.encapsulate(ns, w, link, nextHop, key, resolveNeighbour);
    }
    if (resolveNeighbour) {
      Optional<NeighbourResolver.Resolved> mac = neighbours.resolve(ns, link, nextHop);
      if (mac.isEmpty() && neighbours.segment(ns, link).isEmpty()) {
        // Whoever would answer the ARP request is outside the capture: the packet leaves it.
        return List.of(
            endings.forwarded(
                w.hop(
                    Hop.of(
                        ns.name(),
                        "neighbour",
                        Optional.of(oif),
                        nextHop
                            + " is not in the neighbour table; the far end of "
                            + oif
                            + " is not captured")),
                ns.name(),
                oif,
                nextHop));
      }
      if (mac.isEmpty()) {
        return List.of(
            endings.end(
                w.hop(
                    Hop.of(
                        ns.name(),
                        "neighbour",
                        Optional.of(oif),
                        "ARP for " + nextHop + " on " + oif + " gets no answer")),
                "dropped",
                "no neighbour: nobody answers ARP for "
                    + nextHop
                    + " on "
                    + oif
                    + " of "
                    + world.label(ns.name())
                    + " (no address, no proxy-ARP answer)"));
      }
      w =
          w.withMac(mac.get().mac())
              .hop(Hop.of(ns.name(), "neighbour", Optional.of(oif), mac.get().how()));
    }
    return tc.egress(ns, w, link, key, (a, k) -> onWire(ns, a, link, nextHop));
  }

  private List<Outcome> onWire(NetnsState ns, Walk w, Link link, String nextHop) {
    if (link.isBridge()) {
      return bridges.bridgeOut(ns, w, link, Optional.empty());
    }
    if (link.isVeth()) {
      Optional<TraceWorld.Endpoint> peer = world.peer(ns.name(), link);
      if (peer.isEmpty()) {
        return List.of(endings.forwarded(w, ns.name(), link.name(), nextHop));
      }
      return crossVeth(ns, w, link, peer.get());
    }
    return List.of(endings.forwarded(w, ns.name(), link.name(), nextHop));
  }

  List<Outcome> crossVeth(NetnsState ns, Walk w, Link link, TraceWorld.Endpoint peer) {
    NetnsState other = world.state(peer.netns());
    Walk a =
        w.hop(
            Hop.of(
                ns.name(),
                "veth",
                Optional.of(link.name()),
                "out of "
                    + link.name()
                    + " into "
                    + world.label(peer.netns())
                    + " on "
                    + peer.link().name()));
    if (!peer.netns().equals(ns.name())) {
      a = a.enterNamespace(ns.name(), peer.netns());
    }
    return receive(other, a, peer.link().name());
  }
}
