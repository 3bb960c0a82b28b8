package dev.tweed.kernel;

import java.util.Optional;

/**
 * What the routing decision found: the policy rule that led to a table and the route chosen there,
 * or the rule's own action (unreachable, blackhole, prohibit), or nothing at all.
 */
public record RouteDecision(
    Optional<RoutingRule> rule, Optional<RouteEntry> route, String outcome, String table) {

  /** The type that decides what happens: a route's type, or a rule's action. */
  public String type() {
    return route.map(RouteEntry::type).orElse(outcome);
  }

  public boolean found() {
    return route.isPresent();
  }
}
