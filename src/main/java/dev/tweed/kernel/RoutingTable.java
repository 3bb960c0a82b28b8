package dev.tweed.kernel;

import dev.tweed.model.IpAddress;
import dev.tweed.model.IpFamily;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * The kernel's routing decision: policy rules in priority order, each pointing at a table where the
 * longest matching prefix wins (then the lowest metric). A table without a match, or a {@code
 * throw} route, passes the decision on to the next rule.
 */
public final class RoutingTable {
  private RoutingTable() {}

  /**
   * Decides a route.
   *
   * @param iif the input interface, "lo" for a locally generated packet (as the kernel's output
   *     lookup presents it to {@code iif} rules)
   * @param oif the interface a socket is bound to, if it is
   */
  public static RouteDecision decide(
      NetnsState ns, IpAddress src, IpAddress dst, long mark, String iif, Optional<String> oif) {
    IpFamily family = dst.family();
    List<RoutingRule> ofFamily = ns.rules().stream().filter(r -> r.family() == family).toList();
    List<RoutingRule> rules =
        ofFamily.isEmpty()
            ? defaultRules(family)
            : ofFamily.stream().sorted(Comparator.comparingInt(RoutingRule::priority)).toList();
    for (RoutingRule r : rules) {
      if (!selects(r, src, dst, mark, iif, oif)) {
        continue;
      }
      switch (r.action()) {
        case "lookup" -> {
          Optional<RouteEntry> route = longestMatch(ns, r.table(), dst);
          if (route.isPresent() && !route.get().type().equals("throw")) {
            return new RouteDecision(Optional.of(r), route, route.get().type(), r.table());
          }
        }
        case "goto", "nop" -> {
          // Rare; rule jumps are not followed. The next rule decides.
        }
        default -> {
          return new RouteDecision(Optional.of(r), Optional.empty(), r.action(), "");
        }
      }
    }
    return new RouteDecision(Optional.empty(), Optional.empty(), "no route", "");
  }

  private static boolean selects(
      RoutingRule r, IpAddress src, IpAddress dst, long mark, String iif, Optional<String> oif) {
    boolean m =
        r.src().map(c -> c.contains(src)).orElse(true)
            && r.dst().map(c -> c.contains(dst)).orElse(true)
            && r.fwmark().map(f -> (mark & r.fwmask()) == f).orElse(true)
            && r.iif().map(i -> i.equals(iif)).orElse(true)
            && r.oif().map(o -> oif.map(o::equals).orElse(false)).orElse(true);
    return r.not() != m;
  }

  /** The longest prefix containing {@code dst} in one table; then the lowest metric. */
  public static Optional<RouteEntry> longestMatch(NetnsState ns, String table, IpAddress dst) {
    return ns.routes().stream()
        .filter(r -> r.table().equals(table) && r.dst().contains(dst))
        .filter(r -> !r.type().equals("multicast"))
        .max(
            Comparator.comparingInt((RouteEntry r) -> r.dst().prefixLength())
                .thenComparing(Comparator.comparingInt(RouteEntry::metric).reversed()));
  }

  /** The kernel's rules of a namespace nobody changed: local, main (and IPv4's default). */
  private static List<RoutingRule> defaultRules(IpFamily family) {
    return family == IpFamily.IPV4
        ? List.of(
            rule(family, 0, "local"), rule(family, 32766, "main"), rule(family, 32767, "default"))
        : List.of(rule(family, 0, "local"), rule(family, 32766, "main"));
  }

  private static RoutingRule rule(IpFamily family, int prio, String table) {
    return new RoutingRule(
        family,
        prio,
        false,
        Optional.empty(),
        Optional.empty(),
        Optional.empty(),
        0,
        Optional.empty(),
        Optional.empty(),
        "lookup",
        table,
        prio + ":\tfrom all lookup " + table);
  }
}
