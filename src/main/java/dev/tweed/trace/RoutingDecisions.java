package dev.tweed.trace;

import dev.tweed.kernel.NetnsState;
import dev.tweed.kernel.Packet;
import dev.tweed.kernel.RouteDecision;
import dev.tweed.kernel.RouteEntry;
import dev.tweed.kernel.RoutingTable;
import dev.tweed.model.IpFamily;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The routing decision's part of a journey: how a decision reads as a hop, the decisions that end
 * it (blackhole, unreachable, prohibit, no route), multipath forks and reverse-path filtering.
 */
final class RoutingDecisions {
  private final TraceWorld world;
  private final Endings endings;

  RoutingDecisions(TraceWorld world, Endings endings) {
    this.world = world;
    this.endings = endings;
  }

  Hop routeHop(NetnsState ns, RouteDecision rd, String what) {
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

  Optional<Outcome> routeFailure(NetnsState ns, Walk w, RouteDecision rd, boolean local) {
    String type = rd.type();
    String who = world.label(ns.name());
    return switch (type) {
      case "unicast", "local", "broadcast" -> {
        if (type.equals("unicast") && rd.route().get().nexthops().isEmpty()) {
          yield Optional.of(endings.end(w, "dropped", "route without next hop in " + who));
        }
        yield Optional.empty();
      }
      case "blackhole" ->
          Optional.of(
              endings.end(
                  w,
                  "dropped",
                  "blackhole route in "
                      + who
                      + ": "
                      + rd.route().map(RouteEntry::text).orElse(rd.outcome())));
      case "unreachable" ->
          Optional.of(
              local
                  ? endings.end(
                      w,
                      "rejected",
                      "unreachable route in " + who + ": the sender gets EHOSTUNREACH")
                  : icmpUnreachable(w, "unreachable route in " + who, "host unreachable"));
      case "prohibit" ->
          Optional.of(
              endings.end(
                  w,
                  "rejected",
                  "prohibit route in " + who + ": ICMP administratively prohibited"));
      default -> {
        String where = "no route to " + w.packet().dstIp() + " in " + who;
        yield Optional.of(
            local
                ? endings.end(w, "rejected", where + ": the sender gets ENETUNREACH")
                : icmpUnreachable(w, where, "net unreachable"));
      }
    };
  }

  /**
   * A router's ICMP net or host unreachable. A connecting TCP socket fails on it; a UDP socket
   * ignores it: to Linux these are soft errors (not fatal in its {@code icmp_err_convert}, RFC
   * 1122's "soft" errors), which a UDP socket reports only with {@code IP_RECVERR}. Its sender
   * times out.
   */
  private Outcome icmpUnreachable(Walk w, String where, String error) {
    if (w.packet().family() == IpFamily.IPV6) {
      // ICMPv6 destination unreachable, with its code's name: no route, or address unreachable.
      error =
          "destination unreachable ("
              + (error.startsWith("net") ? "no route" : "address unreachable")
              + ")";
    }
    String icmp = w.packet().family() == IpFamily.IPV4 ? "ICMP " : "ICMPv6 ";
    if (w.packet().proto().equals("udp")) {
      return endings.end(
          w,
          "dropped",
          where
              + ": "
              + icmp
              + error
              + " sent back, which a UDP socket ignores (a soft error): the sender times out");
    }
    return endings.end(w, "rejected", where + ": " + icmp + error + " sent back");
  }

  static String outIface(RouteDecision rd) {
    if (rd.type().equals("local")) {
      return "lo";
    }
    return rd.route()
        .flatMap(r -> r.nexthops().stream().findFirst())
        .flatMap(RouteEntry.Nexthop::dev)
        .orElse("");
  }

  /** A walk on one next hop of a route. */
  record PathChoice(Walk walk, RouteDecision route) {}

  /**
   * A multipath route forks the walk: one branch per next hop, equally likely. The kernel picks by
   * a hash of the flow whose seed the model cannot know, so each is followed.
   */
  List<PathChoice> multipath(NetnsState ns, Walk w, RouteDecision rd) {
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

  Optional<Outcome> rpFilter(NetnsState ns, Walk w, String iif) {
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
        endings.end(
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
}
