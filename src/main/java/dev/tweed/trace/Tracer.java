package dev.tweed.trace;

import dev.tweed.kernel.BridgeFdbEntry;
import dev.tweed.kernel.Link;
import dev.tweed.kernel.NeighbourEntry;
import dev.tweed.kernel.NetnsState;
import dev.tweed.kernel.Packet;
import dev.tweed.kernel.RouteDecision;
import dev.tweed.kernel.RouteEntry;
import dev.tweed.kernel.RoutingTable;
import dev.tweed.kernel.netfilter.PacketContext;
import dev.tweed.kernel.netfilter.XtChainEvaluator;
import dev.tweed.kernel.netfilter.XtOutcome;
import dev.tweed.kernel.netfilter.XtStep;
import dev.tweed.kernel.netfilter.XtTable;
import dev.tweed.kernel.nftables.NftChainEvaluator;
import dev.tweed.kernel.nftables.NftRuleset;
import dev.tweed.model.Ipv4;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Follows a packet through the kernel model of a set of namespaces: the output or input routing
 * decision, the netfilter hooks in the kernel's order, forwarding, neighbour resolution (with
 * proxy-ARP), veth, bridge and VXLAN crossings, and delivery to a socket. Every random fork is
 * followed; each way the journey can end is one {@link Outcome}.
 */
public final class Tracer {
  private static final int MAX_HOPS = 400;

  /** Tables of each hook in the kernel's priority order (raw -300, mangle -150, nat ±100...). */
  private static final Map<String, List<String>> HOOK_TABLES =
      Map.of(
          "PREROUTING", List.of("raw", "mangle", "nat"),
          "INPUT", List.of("mangle", "filter", "security", "nat"),
          "FORWARD", List.of("mangle", "filter", "security"),
          "OUTPUT", List.of("raw", "mangle", "nat", "filter", "security"),
          "POSTROUTING", List.of("mangle", "nat"));

  private final TraceWorld world;

  public Tracer(TraceWorld world) {
    this.world = world;
  }

  /** A packet sent by a process in {@code netns}. */
  public List<Outcome> fromLocalProcess(String netns, Packet p) {
    NetnsState ns = ns(netns);
    Walk w =
        Walk.start(p)
            .hop(Hop.of(netns, "send", Optional.empty(), world.label(netns) + " sends " + p));
    return localOut(ns, w);
  }

  /** A packet arriving on {@code iface} of {@code netns}. */
  public List<Outcome> arriving(String netns, String iface, Packet p) {
    NetnsState ns = ns(netns);
    if (ns.link(iface).isEmpty()) {
      throw new IllegalArgumentException("no interface " + iface + " in " + netns);
    }
    Walk w =
        Walk.start(p)
            .hop(
                Hop.of(
                    netns,
                    "receive",
                    Optional.of(iface),
                    p + " arrives on " + iface + " of " + world.label(netns)));
    return receive(ns, w, iface);
  }

  private NetnsState ns(String name) {
    return world
        .netns(name)
        .orElseThrow(() -> new IllegalArgumentException("no captured namespace " + name));
  }

  // ---- local output -------------------------------------------------------------------------

  private List<Outcome> localOut(NetnsState ns, Walk w) {
    if (w.hops().size() > MAX_HOPS) {
      return List.of(
          end(w, "dropped", "the journey did not end within " + MAX_HOPS + " steps (a loop?)"));
    }
    Packet p = w.packet();
    RouteDecision rd = RoutingTable.decide(ns, p.src(), p.dst(), p.mark(), "lo", Optional.empty());
    w = w.hop(routeHop(ns, rd, "output"));
    Optional<Outcome> fail = routeFailure(ns, w, rd, true);
    if (fail.isPresent()) {
      return List.of(fail.get());
    }
    List<Outcome> out = new ArrayList<>();
    for (var branch : multipath(ns, w, rd)) {
      out.addAll(localOutVia(ns, branch.walk(), branch.route(), p));
    }
    return out;
  }

  private List<Outcome> localOutVia(NetnsState ns, Walk w, RouteDecision rd, Packet p) {
    String oif = outIface(rd);
    List<Outcome> out = new ArrayList<>();
    for (Object r : hook(ns, w, "OUTPUT", Optional.empty(), Optional.of(oif))) {
      if (r instanceof Outcome o) {
        out.add(o);
        continue;
      }
      Walk a = unSnat(ns, (Walk) r);
      RouteDecision rd2 = rd;
      if (a.packet().dst() != p.dst() || a.packet().mark() != p.mark()) {
        // The kernel routes again after OUTPUT changed the destination or the mark.
        rd2 =
            RoutingTable.decide(
                ns, a.packet().src(), a.packet().dst(), a.packet().mark(), "lo", Optional.empty());
        a = a.hop(routeHop(ns, rd2, "output, again after OUTPUT changed the packet"));
        Optional<Outcome> f2 = routeFailure(ns, a, rd2, true);
        if (f2.isPresent()) {
          out.add(f2.get());
          continue;
        }
      }
      String oif2 = outIface(rd2);
      for (Object r2 : hook(ns, a, "POSTROUTING", Optional.empty(), Optional.of(oif2))) {
        if (r2 instanceof Outcome o) {
          out.add(o);
        } else if (rd2.type().equals("local")) {
          out.addAll(loopback(ns, (Walk) r2));
        } else {
          out.addAll(transmit(ns, unDnat(ns, (Walk) r2), rd2, oif2, Optional.empty()));
        }
      }
    }
    return out;
  }

  /** A packet to one of the namespace's own addresses goes round through {@code lo}. */
  private List<Outcome> loopback(NetnsState ns, Walk w) {
    w = w.hop(Hop.of(ns.name(), "loopback", Optional.of("lo"), "to a local address: through lo"));
    List<Outcome> out = new ArrayList<>();
    // NAT was decided in OUTPUT and POSTROUTING; the nat tables do not see the packet again.
    for (Object r : hook(ns, w, "PREROUTING", Optional.of("lo"), Optional.empty(), true)) {
      if (r instanceof Outcome o) {
        out.add(o);
        continue;
      }
      out.addAll(inputAndDeliver(ns, (Walk) r, "lo", true));
    }
    return out;
  }

  // ---- input --------------------------------------------------------------------------------

  private List<Outcome> receive(NetnsState ns, Walk w, String iif) {
    if (w.hops().size() > MAX_HOPS) {
      return List.of(
          end(w, "dropped", "the journey did not end within " + MAX_HOPS + " steps (a loop?)"));
    }
    Link link = ns.link(iif).orElseThrow();
    if (!link.up()) {
      return List.of(end(w, "dropped", iif + " in " + world.label(ns.name()) + " is down"));
    }
    if (link.master().isPresent()) {
      return bridgeIn(ns, w, link);
    }
    List<Outcome> out = new ArrayList<>();
    for (Object r : hook(ns, w, "PREROUTING", Optional.of(iif), Optional.empty())) {
      if (r instanceof Outcome o) {
        out.add(o);
        continue;
      }
      out.addAll(routeIn(ns, unSnat(ns, (Walk) r), iif));
    }
    return out;
  }

  /** Input routing and what follows, after PREROUTING. */
  private List<Outcome> routeIn(NetnsState ns, Walk a, String iif) {
    Packet p = a.packet();
    RouteDecision rd = RoutingTable.decide(ns, p.src(), p.dst(), p.mark(), iif, Optional.empty());
    a = a.hop(routeHop(ns, rd, "input from " + iif));
    Optional<Outcome> fail = routeFailure(ns, a, rd, false);
    if (fail.isPresent()) {
      return List.of(fail.get());
    }
    if (rd.type().equals("local") || rd.type().equals("broadcast")) {
      Optional<Outcome> rp = rpFilter(ns, a, iif);
      if (rp.isPresent()) {
        return List.of(rp.get());
      }
      return inputAndDeliver(ns, a, iif, false);
    }
    List<Outcome> out = new ArrayList<>();
    for (var branch : multipath(ns, a, rd)) {
      out.addAll(forward(ns, branch.walk(), iif, branch.route()));
    }
    return out;
  }

  /** A walk on one next hop of a route. */
  private record PathChoice(Walk walk, RouteDecision route) {}

  /**
   * A multipath route forks the walk: one branch per next hop, equally likely. The kernel picks by
   * a hash of the flow whose seed the model cannot know, so each is followed.
   */
  private List<PathChoice> multipath(NetnsState ns, Walk w, RouteDecision rd) {
    List<RouteEntry.Nexthop> hops = rd.route().map(RouteEntry::nexthops).orElse(List.of());
    if (hops.size() < 2) {
      return List.of(new PathChoice(w, rd));
    }
    RouteEntry r = rd.route().get();
    List<PathChoice> out = new ArrayList<>();
    for (int i = 0; i < hops.size(); i++) {
      RouteEntry.Nexthop nh = hops.get(i);
      RouteEntry one =
          new RouteEntry(
              r.table(),
              r.type(),
              r.dst(),
              List.of(nh),
              r.prefsrc(),
              r.protocol(),
              r.scope(),
              r.metric(),
              r.text());
      Walk branch =
          w.fork(i, 1.0 / hops.size())
              .hop(
                  Hop.of(
                      ns.name(),
                      "route",
                      nh.dev(),
                      "multipath: next hop "
                          + (i + 1)
                          + " of "
                          + hops.size()
                          + " ("
                          + nh.gateway().map(g -> "via " + g + " ").orElse("")
                          + nh.dev().map(d -> "dev " + d).orElse("")
                          + "), chosen by a hash of the flow"));
      out.add(
          new PathChoice(
              branch, new RouteDecision(rd.rule(), Optional.of(one), rd.outcome(), rd.table())));
    }
    return out;
  }

  private Optional<Outcome> rpFilter(NetnsState ns, Walk w, String iif) {
    int mode = Math.max(ns.confAll("rp_filter").orElse(0), ns.conf(iif, "rp_filter").orElse(0));
    if (mode == 0 || iif.equals("lo")) {
      return Optional.empty();
    }
    Packet p = w.packet();
    RouteDecision back = RoutingTable.decide(ns, p.dst(), p.src(), p.mark(), iif, Optional.empty());
    boolean ok =
        back.found()
            && back.route().get().isUnicast()
            && (mode == 2
                || back.route().get().nexthops().stream()
                    .anyMatch(n -> n.dev().map(iif::equals).orElse(false)));
    if (ok) {
      return Optional.empty();
    }
    return Optional.of(
        end(
            w.hop(
                Hop.of(
                    ns.name(),
                    "drop",
                    Optional.of(iif),
                    "rp_filter="
                        + mode
                        + ": the route back to "
                        + p.srcIp()
                        + (back.found() ? " leaves by another interface" : " does not exist"))),
            "dropped",
            "rp_filter on " + iif + " (reverse path to " + p.srcIp() + " not via " + iif + ")"));
  }

  private List<Outcome> forward(NetnsState ns, Walk w, String iif, RouteDecision rd) {
    if (!ns.forwarding()) {
      return List.of(
          end(
              w.hop(Hop.of(ns.name(), "drop", Optional.of(iif), "net.ipv4.ip_forward=0")),
              "dropped",
              "forwarding is off in " + world.label(ns.name()) + " (net.ipv4.ip_forward=0)"));
    }
    Optional<Outcome> rp = rpFilter(ns, w, iif);
    if (rp.isPresent()) {
      return List.of(rp.get());
    }
    Walk a = w.withPacket(w.packet().decrementTtl());
    if (a.packet().ttl() <= 0) {
      return List.of(end(a, "rejected", "TTL exceeded (ICMP time exceeded sent back)"));
    }
    String oif = outIface(rd);
    List<Outcome> out = new ArrayList<>();
    for (Object r : hook(ns, a, "FORWARD", Optional.of(iif), Optional.of(oif))) {
      if (r instanceof Outcome o) {
        if (o.verdict().equals("rejected") && iif.equals(oif) && sendsRedirects(ns, iif)) {
          o = withNote(o, redirectNote(iif));
        }
        out.add(o);
        continue;
      }
      Walk b = (Walk) r;
      if (iif.equals(oif) && sendsRedirects(ns, iif)) {
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
      for (Object r2 : hook(ns, b, "POSTROUTING", Optional.of(iif), Optional.of(oif))) {
        if (r2 instanceof Outcome o) {
          out.add(o);
        } else {
          out.addAll(transmit(ns, unDnat(ns, (Walk) r2), rd, oif, Optional.of(iif)));
        }
      }
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

  private static Outcome withNote(Outcome o, String note) {
    return new Outcome(
        o.verdict(),
        o.assumed(),
        o.reason() + "; " + note,
        o.rule(),
        o.nat(),
        o.egress(),
        o.hops(),
        o.probability(),
        o.forks(),
        o.uncertainties(),
        o.conntrack());
  }

  private List<Outcome> inputAndDeliver(NetnsState ns, Walk w, String iif, boolean natDecided) {
    List<Outcome> out = new ArrayList<>();
    for (Object r : hook(ns, w, "INPUT", Optional.of(iif), Optional.empty(), natDecided)) {
      if (r instanceof Outcome o) {
        out.add(o);
      } else {
        out.addAll(deliver(ns, unDnat(ns, (Walk) r), iif));
      }
    }
    return out;
  }

  /**
   * A reply passing the nat hooks' place in PREROUTING or OUTPUT: conntrack gives it back the
   * address the connection's sender had before SNAT/MASQUERADE changed it.
   */
  private Walk unSnat(NetnsState ns, Walk w) {
    return undoNat(ns, w, false);
  }

  /** A reply leaving by POSTROUTING or INPUT: its source goes back to what was addressed. */
  private Walk unDnat(NetnsState ns, Walk w) {
    return undoNat(ns, w, true);
  }

  private Walk undoNat(NetnsState ns, Walk w, boolean dnat) {
    Optional<ConntrackEntry> e = w.entry(ns.name());
    if (e.isEmpty() || !(dnat ? e.get().dnat() : e.get().snat())) {
      return w;
    }
    Packet o = e.get().original();
    Packet p = w.packet();
    Packet back =
        dnat
            ? p.withSrc(o.dst(), Optional.of(o.dport()))
            : p.withDst(o.src(), Optional.of(o.sport()));
    String before = dnat ? p.srcEndpoint() : p.dstEndpoint();
    String after = dnat ? back.srcEndpoint() : back.dstEndpoint();
    return w.withPacket(back)
        .hop(
            Hop.of(
                ns.name(),
                "conntrack",
                Optional.empty(),
                "reply of a translated connection: "
                    + (dnat ? "source " : "destination ")
                    + before
                    + " -> "
                    + after));
  }

  private List<Outcome> deliver(NetnsState ns, Walk w, String iif) {
    Packet p = w.packet();
    if (w.reply() && w.entry(ns.name()).isPresent() && ns.owner(p.dstIp()).isPresent()) {
      String who = world.label(ns.name());
      return List.of(
          end(
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
        return decapsulate(ns, w, vx.get());
      }
    }
    String who = world.label(ns.name());
    if (p.proto().equals("icmp")) {
      return List.of(
          end(
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
          end(
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
                + ": the kernel answers ICMP port unreachable";
    return List.of(
        end(
            w.hop(Hop.of(ns.name(), "reject", Optional.of(iif), answer)),
            "rejected",
            who + ": " + answer));
  }

  // ---- transmit -----------------------------------------------------------------------------

  private List<Outcome> transmit(
      NetnsState ns, Walk w, RouteDecision rd, String oif, Optional<String> iif) {
    Link link = ns.link(oif).orElse(null);
    if (link == null) {
      return List.of(end(w, "dropped", "route names " + oif + ", which does not exist"));
    }
    if (!link.up()) {
      return List.of(end(w, "dropped", oif + " is down"));
    }
    RouteEntry.Nexthop nh = rd.route().orElseThrow().nexthops().get(0);
    String nextHop = nh.gateway().orElse(w.packet().dstIp());
    if (link.vxlan().isPresent()) {
      return vxlanOut(ns, w, link, nextHop);
    }
    if (link.isLoopback()) {
      return loopback(ns, w);
    }
    Optional<Resolved> mac = resolve(ns, link, nextHop);
    if (mac.isEmpty() && segment(ns, link).isEmpty()) {
      // Whoever would answer the ARP request is outside the capture: the packet leaves it.
      return List.of(
          forwarded(
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
          end(
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
    if (link.isBridge()) {
      return bridgeOut(ns, w, link, Optional.empty());
    }
    if (link.isVeth()) {
      Optional<TraceWorld.Endpoint> peer = world.peer(ns.name(), link);
      if (peer.isEmpty()) {
        return List.of(forwarded(w, ns.name(), oif, nextHop));
      }
      return crossVeth(ns, w, link, peer.get());
    }
    return List.of(forwarded(w, ns.name(), oif, nextHop));
  }

  private List<Outcome> crossVeth(NetnsState ns, Walk w, Link link, TraceWorld.Endpoint peer) {
    NetnsState other = ns(peer.netns());
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

  private Outcome forwarded(Walk w, String netns, String oif, String nextHop) {
    Walk a =
        w.hop(
            Hop.of(
                netns,
                "forward",
                Optional.of(oif),
                "leaves " + world.label(netns) + " on " + oif + " towards " + nextHop));
    return finish(
        a,
        "forwarded",
        "leaves the traced namespaces on " + oif + " of " + world.label(netns) + " via " + nextHop,
        Optional.empty(),
        Optional.of(new Outcome.Egress(netns, oif, nextHop)));
  }

  /** A resolved MAC and how it was found. */
  private record Resolved(String mac, String how) {}

  private Optional<Resolved> resolve(NetnsState ns, Link link, String nextHop) {
    if (link.noArp()) {
      return Optional.of(new Resolved("", link.name() + " does not use ARP"));
    }
    for (NeighbourEntry n : ns.neighbours()) {
      if (!n.proxy() && n.dev().equals(link.name()) && n.address().equals(nextHop) && n.usable()) {
        return Optional.of(
            new Resolved(
                n.lladdr().get(),
                "neighbour "
                    + nextHop
                    + " is "
                    + n.lladdr().get()
                    + " ("
                    + String.join(",", n.state())
                    + ")"));
      }
    }
    // Not cached: who on the link would answer the ARP request?
    for (TraceWorld.Endpoint e : segment(ns, link)) {
      NetnsState other = ns(e.netns());
      Link l = e.link();
      if (l.addresses().stream().anyMatch(a -> a.address().equals(nextHop))) {
        return Optional.of(arpAnswer(nextHop, e, ""));
      }
      boolean proxyEntry =
          other.neighbours().stream()
              .anyMatch(n -> n.proxy() && n.address().equals(nextHop) && n.dev().equals(l.name()));
      boolean proxyArp =
          Math.max(
                  other.confAll("proxy_arp").orElse(0), other.conf(l.name(), "proxy_arp").orElse(0))
              > 0;
      if (proxyEntry || proxyArp) {
        RouteDecision via =
            RoutingTable.decide(other, 0, Ipv4.parse(nextHop), 0, l.name(), Optional.empty());
        boolean elsewhere =
            via.found()
                && (via.route().get().isUnicast() || via.route().get().type().equals("local"))
                && via.route().get().nexthops().stream()
                    .noneMatch(n -> n.dev().map(l.name()::equals).orElse(false));
        if (proxyEntry || (elsewhere && other.forwarding())) {
          return Optional.of(arpAnswer(nextHop, e, " by proxy-ARP"));
        }
      }
    }
    return Optional.empty();
  }

  private Resolved arpAnswer(String nextHop, TraceWorld.Endpoint e, String how) {
    Link l = e.link();
    return new Resolved(
        l.mac(),
        "ARP for "
            + nextHop
            + ": "
            + world.label(e.netns())
            + " "
            + l.name()
            + " answers "
            + l.mac()
            + how);
  }

  /** The interfaces an ARP broadcast out of {@code link} reaches. */
  private List<TraceWorld.Endpoint> segment(NetnsState ns, Link link) {
    List<TraceWorld.Endpoint> out = new ArrayList<>();
    if (link.isBridge()) {
      addBridgePorts(ns, link.name(), Optional.empty(), out);
      return out;
    }
    Optional<TraceWorld.Endpoint> peer = world.peer(ns.name(), link);
    if (peer.isEmpty()) {
      return out;
    }
    Link p = peer.get().link();
    if (p.master().isPresent()) {
      NetnsState other = ns(peer.get().netns());
      other
          .link(p.master().get())
          .ifPresent(b -> out.add(new TraceWorld.Endpoint(other.name(), b)));
      addBridgePorts(other, p.master().get(), Optional.of(p.name()), out);
    } else {
      out.add(peer.get());
    }
    return out;
  }

  private void addBridgePorts(
      NetnsState ns, String bridge, Optional<String> except, List<TraceWorld.Endpoint> out) {
    for (Link port : ns.links()) {
      if (port.master().map(bridge::equals).orElse(false)
          && !except.map(port.name()::equals).orElse(false)) {
        world.peer(ns.name(), port).ifPresent(out::add);
      }
    }
  }

  // ---- bridges ------------------------------------------------------------------------------

  /**
   * With br_netfilter on ({@code net.bridge.bridge-nf-call-iptables=1}), IPv4 frames a bridge
   * receives pass PREROUTING with the bridge as input device (and the port as physdev), once: the
   * IP stack skips PREROUTING for them if they go up to the host.
   */
  private static boolean brNetfilter(NetnsState ns) {
    return ns.sysctls().getOrDefault("net.bridge.bridge-nf-call-iptables", "0").equals("1");
  }

  private List<Outcome> bridgeIn(NetnsState ns, Walk w, Link port) {
    String bridge = port.master().get();
    Link br = ns.link(bridge).orElseThrow();
    w =
        w.hop(
            Hop.of(
                ns.name(),
                "bridge",
                Optional.of(port.name()),
                "into bridge " + bridge + " on port " + port.name()));
    if (!brNetfilter(ns)) {
      return bridgeDecide(ns, w, br, port, false);
    }
    List<Outcome> out = new ArrayList<>();
    for (Object r :
        hook(
            ns,
            w,
            "PREROUTING",
            Optional.of(bridge),
            Optional.empty(),
            false,
            Optional.of(port.name()),
            Optional.empty())) {
      if (r instanceof Outcome o) {
        out.add(o);
        continue;
      }
      Walk a = (Walk) r;
      if (a.packet().dst() != w.packet().dst()) {
        a =
            a.uncertain(
                "br_netfilter: a bridged packet DNATed in PREROUTING is routed again by the"
                    + " bridge, which is not modelled");
      }
      out.addAll(bridgeDecide(ns, a, br, port, true));
    }
    return out;
  }

  /** The bridge's choice: up to its own IP stack, or out of a port. */
  private List<Outcome> bridgeDecide(
      NetnsState ns, Walk w, Link br, Link port, boolean preroutingDone) {
    String mac = w.dstMac().orElse("");
    if (mac.equalsIgnoreCase(br.mac())) {
      w =
          w.hop(
              Hop.of(
                  ns.name(),
                  "bridge",
                  Optional.of(br.name()),
                  "addressed to the bridge itself: up to " + br.name() + "'s IP stack"));
      return preroutingDone ? routeIn(ns, w, br.name()) : receive(ns, w, br.name());
    }
    return bridgeOut(ns, w, br, Optional.of(port.name()));
  }

  private List<Outcome> bridgeOut(NetnsState ns, Walk w, Link br, Optional<String> inPort) {
    String mac = w.dstMac().orElse("");
    Optional<BridgeFdbEntry> fdb =
        ns.fdb().stream()
            .filter(
                f ->
                    f.mac().equalsIgnoreCase(mac)
                        && f.master().map(br.name()::equals).orElse(false)
                        && !inPort.map(f.dev()::equals).orElse(false))
            .findFirst();
    String outPort;
    if (fdb.isPresent()) {
      outPort = fdb.get().dev();
      w =
          w.hop(
              Hop.of(
                  ns.name(),
                  "fdb",
                  Optional.of(br.name()),
                  mac + " is behind port " + outPort + " (fdb)"));
    } else {
      // Unknown unicast is flooded; it reaches the port whose far end owns the MAC.
      Optional<String> owner = Optional.empty();
      for (Link port : ns.links()) {
        if (port.master().map(br.name()::equals).orElse(false)
            && !inPort.map(port.name()::equals).orElse(false)) {
          Optional<TraceWorld.Endpoint> peer = world.peer(ns.name(), port);
          if (peer.isPresent() && peer.get().link().mac().equalsIgnoreCase(mac)) {
            owner = Optional.of(port.name());
          }
        }
      }
      if (owner.isEmpty()) {
        return List.of(end(w, "dropped", "bridge " + br.name() + ": no port leads to " + mac));
      }
      outPort = owner.get();
      w =
          w.hop(
              Hop.of(
                  ns.name(),
                  "fdb",
                  Optional.of(br.name()),
                  mac + " not in the fdb: flooded, reaches port " + outPort));
    }
    if (inPort.isEmpty() || !brNetfilter(ns)) {
      return leaveBridge(ns, w, outPort, mac);
    }
    // br_netfilter: a frame bridged from port to port passes FORWARD and POSTROUTING with the
    // bridge as both devices and the ports as physdev.
    List<Outcome> out = new ArrayList<>();
    Optional<String> brName = Optional.of(br.name());
    for (Object r : hook(ns, w, "FORWARD", brName, brName, false, inPort, Optional.of(outPort))) {
      if (r instanceof Outcome o) {
        out.add(o);
        continue;
      }
      for (Object r2 :
          hook(
              ns,
              (Walk) r,
              "POSTROUTING",
              Optional.empty(),
              brName,
              false,
              inPort,
              Optional.of(outPort))) {
        if (r2 instanceof Outcome o) {
          out.add(o);
        } else {
          out.addAll(leaveBridge(ns, (Walk) r2, outPort, mac));
        }
      }
    }
    return out;
  }

  private List<Outcome> leaveBridge(NetnsState ns, Walk w, String outPort, String mac) {
    Link port = ns.link(outPort).orElseThrow();
    Optional<TraceWorld.Endpoint> peer = world.peer(ns.name(), port);
    if (peer.isEmpty()) {
      return List.of(forwarded(w, ns.name(), outPort, mac));
    }
    return crossVeth(ns, w, port, peer.get());
  }

  // ---- VXLAN --------------------------------------------------------------------------------

  private List<Outcome> vxlanOut(NetnsState ns, Walk w, Link vx, String nextHop) {
    Optional<Resolved> mac = resolve(ns, vx, nextHop);
    if (mac.isEmpty()) {
      return List.of(end(w, "dropped", "no neighbour entry for " + nextHop + " on " + vx.name()));
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
          end(
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
    return localOut(ns, e);
  }

  private List<Outcome> decapsulate(NetnsState ns, Walk w, Link vx) {
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
          end(
              d,
              "dropped",
              "the inner frame is for " + mac + ", not " + vx.name() + "'s " + vx.mac()));
    }
    return receive(ns, d.enterNamespace(ns.name(), ns.name()), vx.name());
  }

  // ---- netfilter ----------------------------------------------------------------------------

  /**
   * Runs the tables of a hook in order; returns the walks that continue and the outcomes that ended
   * here (a DROP or REJECT).
   */
  private List<Object> hook(
      NetnsState ns, Walk w, String hook, Optional<String> iif, Optional<String> oif) {
    return hook(ns, w, hook, iif, oif, false);
  }

  /** {@code natDecided}: the connection's NAT was already decided in this namespace. */
  private List<Object> hook(
      NetnsState ns,
      Walk w,
      String hook,
      Optional<String> iif,
      Optional<String> oif,
      boolean natDecided) {
    return hook(ns, w, hook, iif, oif, natDecided, Optional.empty(), Optional.empty());
  }

  /** A hook run by br_netfilter for a bridged packet: {@code physIn}/{@code physOut} are ports. */
  private List<Object> hook(
      NetnsState ns,
      Walk w,
      String hook,
      Optional<String> iif,
      Optional<String> oif,
      boolean natDecided,
      Optional<String> physIn,
      Optional<String> physOut) {
    Map<String, XtTable> tables = world.iptables(ns.name());
    NftRuleset nft = world.nftables(ns.name());
    List<HookUnit> units = hookUnits(ns, hook, tables, nft);
    for (int i = 1; i < units.size(); i++) {
      HookUnit a = units.get(i - 1);
      HookUnit b = units.get(i);
      if (a.prio() == b.prio() && a.hasRules() && b.hasRules()) {
        // The kernel runs equal priorities in hook registration order (the later first), which
        // changes when a table is rewritten and which no listing shows.
        w =
            w.uncertain(
                a.table()
                    + " and "
                    + b.table()
                    + " both run on "
                    + hook
                    + " at priority "
                    + a.prio()
                    + ": their order is not in the capture (assumed "
                    + a.table()
                    + " first)");
      }
    }
    List<Object> live = new ArrayList<>(List.of(w));
    boolean dnatBefore = w.dnat();
    boolean snatBefore = w.snat();
    for (HookUnit unit : units) {
      List<Object> next = new ArrayList<>();
      for (Object o : live) {
        if (o instanceof Outcome) {
          next.add(o);
          continue;
        }
        Walk a = (Walk) o;
        boolean natDone = a.dnat() != dnatBefore || a.snat() != snatBefore;
        if (unit.nat() && (natDecided || natDone || !a.ctState().equals("NEW"))) {
          // NAT is decided on a connection's first packet only, by the first chain that binds it.
          next.add(a);
          continue;
        }
        PacketContext ctx =
            new PacketContext(
                a.packet(),
                hook,
                iif,
                oif,
                a.ctState(),
                a.original(),
                a.dnat(),
                a.snat(),
                ns,
                world.ipsets(ns.name()),
                physIn,
                physOut);
        List<XtOutcome> outcomes =
            unit.nft().isPresent()
                ? NftChainEvaluator.evaluate(nft, unit.nft().get(), ctx)
                : XtChainEvaluator.evaluate(unit.iptables().orElseThrow(), hook, ctx);
        String tname = unit.table();
        for (XtOutcome x : outcomes) {
          List<Hop> hops = new ArrayList<>();
          for (XtStep s : x.steps()) {
            hops.add(
                new Hop(
                    ns.name(),
                    "netfilter",
                    hook.equals("PREROUTING") || hook.equals("INPUT") ? iif : oif,
                    Optional.of(hook),
                    Optional.of(s.table()),
                    Optional.of(s.chain()),
                    s.position(),
                    s.rule(),
                    s.action() + s.note().map(n -> " (" + n + ")").orElse(""),
                    Optional.of(a.packet()),
                    unit.nat()));
          }
          Walk b =
              a.netfilter(
                  x.ctx().packet(),
                  x.ctx().dnat(),
                  x.ctx().snat(),
                  x.ctx().ctState().equals("UNTRACKED") ? "UNTRACKED" : a.ctState(),
                  x.probability(),
                  x.forks(),
                  hops,
                  x.nat(),
                  x.uncertainties());
          switch (x.verdict()) {
            case DROP ->
                next.add(
                    finish(
                        b,
                        "dropped",
                        "dropped by "
                            + tname
                            + "/"
                            + x.deciding()
                                .map(r -> r.chain() + " rule " + r.position())
                                .orElse(hook + " policy"),
                        x.deciding().map(r -> r.text()),
                        Optional.empty()));
            case REJECT ->
                next.add(
                    finish(
                        b,
                        "rejected",
                        "rejected by "
                            + tname
                            + "/"
                            + x.deciding()
                                .map(r -> r.chain() + " rule " + r.position())
                                .orElse(hook)
                            + " with "
                            + x.rejectWith().orElse("icmp-port-unreachable"),
                        x.deciding().map(r -> r.text()),
                        Optional.empty()));
            case ACCEPT, RETURN -> next.add(b);
          }
        }
      }
      live = next;
    }
    return live;
  }

  /**
   * One base chain a hook runs: an iptables table's built-in chain, or an nftables base chain.
   *
   * @param order the table's creation order (ties in priority run the later-created first)
   */
  private record HookUnit(
      String hook,
      String table,
      Optional<XtTable> iptables,
      Optional<NftRuleset.Chain> nft,
      boolean nat,
      int prio,
      int order) {
    boolean hasRules() {
      return nft.map(c -> !c.rules().isEmpty())
          .orElseGet(
              () ->
                  iptables
                      .flatMap(t -> t.chain(hook))
                      .map(c -> !c.rules().isEmpty())
                      .orElse(false));
    }
  }

  /** iptables' table priorities (NF_IP_PRI_*), for rule sets not listed by nft (legacy). */
  private static int iptablesPriority(String table, String hook) {
    return switch (table) {
      case "raw" -> -300;
      case "mangle" -> -150;
      case "nat" -> hook.equals("PREROUTING") || hook.equals("OUTPUT") ? -100 : 100;
      case "security" -> 50;
      default -> 0;
    };
  }

  private static List<HookUnit> hookUnits(
      NetnsState ns, String hook, Map<String, XtTable> tables, NftRuleset nft) {
    List<HookUnit> units = new ArrayList<>();
    for (String tname : HOOK_TABLES.get(hook)) {
      XtTable table = tables.get(tname);
      if (table != null && table.chain(hook).isPresent()) {
        units.add(
            new HookUnit(
                hook,
                tname,
                Optional.of(table),
                Optional.empty(),
                tname.equals("nat"),
                iptablesPriority(tname, hook),
                nft.tableOrder("ip", tname)));
      }
    }
    for (NftRuleset.Chain c : nft.baseChains(hook)) {
      boolean iptablesOwn = c.family().equals("ip") && tables.containsKey(c.table());
      if (iptablesOwn || c.table().equals(TraceWorld.TRACE_TABLE)) {
        continue;
      }
      units.add(
          new HookUnit(
              hook,
              c.table(),
              Optional.empty(),
              Optional.of(c),
              c.type().equals("nat"),
              c.prio(),
              nft.tableOrder(c.family(), c.table())));
    }
    units.sort(
        java.util.Comparator.comparingInt(HookUnit::prio)
            .thenComparing(java.util.Comparator.comparingInt(HookUnit::order).reversed()));
    return units;
  }

  // ---- routing ------------------------------------------------------------------------------

  private Hop routeHop(NetnsState ns, RouteDecision rd, String what) {
    String rule = rd.rule().map(r -> "rule " + r.text() + "; ").orElse("");
    if (rd.route().isEmpty()) {
      return Hop.route(
          ns.name(),
          rd.table(),
          rule.isEmpty() ? rd.outcome() : rule.strip(),
          "routing (" + what + "): " + rule + rd.outcome());
    }
    RouteEntry r = rd.route().get();
    return Hop.route(
        ns.name(),
        r.table(),
        r.text(),
        "routing (" + what + "): " + rule + "table " + r.table() + ": " + r.text());
  }

  private Optional<Outcome> routeFailure(NetnsState ns, Walk w, RouteDecision rd, boolean local) {
    String type = rd.type();
    String who = world.label(ns.name());
    return switch (type) {
      case "unicast", "local", "broadcast" -> {
        if (type.equals("unicast") && rd.route().get().nexthops().isEmpty()) {
          yield Optional.of(end(w, "dropped", "route without next hop in " + who));
        }
        yield Optional.empty();
      }
      case "blackhole" ->
          Optional.of(
              end(
                  w,
                  "dropped",
                  "blackhole route in "
                      + who
                      + ": "
                      + rd.route().map(RouteEntry::text).orElse(rd.outcome())));
      case "unreachable" ->
          Optional.of(
              end(
                  w,
                  "rejected",
                  "unreachable route in "
                      + who
                      + (local
                          ? ": the sender gets EHOSTUNREACH"
                          : ": ICMP host unreachable sent back")));
      case "prohibit" ->
          Optional.of(
              end(
                  w,
                  "rejected",
                  "prohibit route in " + who + ": ICMP administratively prohibited"));
      default ->
          Optional.of(
              end(
                  w,
                  "rejected",
                  "no route to "
                      + w.packet().dstIp()
                      + " in "
                      + who
                      + (local
                          ? ": the sender gets ENETUNREACH"
                          : ": ICMP net unreachable sent back")));
    };
  }

  private static String outIface(RouteDecision rd) {
    if (rd.type().equals("local")) {
      return "lo";
    }
    return rd.route()
        .flatMap(r -> r.nexthops().stream().findFirst())
        .flatMap(RouteEntry.Nexthop::dev)
        .orElse("");
  }

  // ---- endings ------------------------------------------------------------------------------

  private Outcome end(Walk w, String verdict, String reason) {
    return finish(w, verdict, reason, Optional.empty(), Optional.empty());
  }

  private Outcome finish(
      Walk w,
      String verdict,
      String reason,
      Optional<String> rule,
      Optional<Outcome.Egress> egress) {
    if (verdict.equals("rejected") && !w.hops().isEmpty()) {
      // The refusal (ICMP error or TCP reset) goes back to the sender: only if the refusing
      // namespace can route to it. Otherwise the sender hears nothing and times out.
      String at = w.hops().get(w.hops().size() - 1).netns();
      NetnsState ns = world.netns(at).orElseThrow();
      Packet p = w.packet();
      boolean sender = ns.owner(p.srcIp()).isPresent();
      RouteDecision back = RoutingTable.decide(ns, 0, p.src(), 0, "lo", Optional.empty());
      boolean routable =
          back.found()
              && (back.route().get().isUnicast() || back.route().get().type().equals("local"));
      if (!sender && !routable) {
        verdict = "dropped";
        reason =
            reason
                + "; but "
                + world.label(at)
                + " has no route back to "
                + p.srcIp()
                + ": the refusal never arrives and the sender times out";
      }
    }
    boolean unsure = !w.uncertainties().isEmpty();
    return new Outcome(
        unsure ? "uncertain" : verdict,
        verdict,
        unsure ? reason + "; uncertain: " + String.join("; ", w.uncertainties()) : reason,
        rule,
        w.nat(),
        egress,
        w.hops(),
        w.probability(),
        w.forks(),
        w.uncertainties(),
        w.hops().isEmpty() ? w.conntrack() : w.conntrackAt(w.hops().getLast().netns()));
  }

  /**
   * The reply to a delivered journey: sent back by the receiving socket, recognised by conntrack in
   * every namespace the forward packet crossed (ESTABLISHED, its NAT undone), and followed until it
   * reaches the sender or stops.
   */
  public List<Outcome> reply(Outcome forward) {
    if (!forward.verdict().equals("delivered") || forward.conntrack().isEmpty()) {
      return List.of();
    }
    ConntrackEntry server = forward.conntrack().getLast();
    Packet t = server.translated();
    Packet r = new Packet(t.dst(), t.src(), t.proto(), t.dport(), t.sport(), 0, 0, 64);
    String netns = server.netns();
    Walk w =
        Walk.startReply(r, forward.conntrack(), netns)
            .hop(Hop.of(netns, "send", Optional.empty(), world.label(netns) + " answers " + r));
    return localOut(ns(netns), w);
  }
}
