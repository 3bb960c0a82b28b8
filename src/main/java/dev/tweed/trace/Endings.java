package dev.tweed.trace;

import dev.tweed.kernel.NetnsState;
import dev.tweed.kernel.Packet;
import dev.tweed.kernel.RouteDecision;
import dev.tweed.kernel.RoutingTable;
import dev.tweed.model.IpAddress;
import java.util.Optional;

/**
 * How a walk becomes an {@link Outcome}: its verdict and reason, and whether a refusal can reach
 * the sender at all (the refusing namespace needs a route back to it).
 */
final class Endings {
  /** A journey longer than this is a loop in the captured state. */
  static final int MAX_HOPS = 400;

  private final TraceWorld world;

  Endings(TraceWorld world) {
    this.world = world;
  }

  Optional<Outcome> loop(Walk w) {
    if (w.hops().size() <= MAX_HOPS) {
      return Optional.empty();
    }
    return Optional.of(
        end(w, "dropped", "the journey did not end within " + MAX_HOPS + " steps (a loop?)"));
  }

  Outcome end(Walk w, String verdict, String reason) {
    return finish(w, verdict, reason, Optional.empty(), Optional.empty());
  }

  /** The packet leaves the captured namespaces: what happens next is outside the model. */
  Outcome forwarded(Walk w, String netns, String oif, String nextHop) {
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

  Outcome finish(
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
      RouteDecision back =
          RoutingTable.decide(
              ns, IpAddress.unspecified(p.family()), p.src(), 0, "lo", Optional.empty());
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
        w.hops().isEmpty() ? w.conntrack() : w.conntrackAt(w.hops().getLast().netns()),
        w.programConnections());
  }

  static Outcome withNote(Outcome o, String note) {
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
        o.conntrack(),
        o.programConnections());
  }
}
