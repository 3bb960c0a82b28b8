package dev.tweed.trace;

import dev.tweed.kernel.Link;
import dev.tweed.kernel.NeighbourEntry;
import dev.tweed.kernel.NetnsState;
import dev.tweed.kernel.RouteDecision;
import dev.tweed.kernel.RoutingTable;
import dev.tweed.model.IpAddress;
import dev.tweed.model.IpFamily;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The MAC a packet is sent to: the neighbour table's entry, or whoever on the link would answer the
 * ARP request or, in IPv6, the neighbour solicitation (the address's owner, or a namespace
 * answering by proxy-ARP; IPv6 needs no proxy: a pod's gateway is its host's link-local address).
 */
final class NeighbourResolver {
  private final TraceWorld world;

  NeighbourResolver(TraceWorld world) {
    this.world = world;
  }

  /** A resolved MAC and how it was found. */
  record Resolved(String mac, String how) {}

  Optional<Resolved> resolve(NetnsState ns, Link link, String nextHop) {
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
      NetnsState other = world.state(e.netns());
      Link l = e.link();
      if (l.addresses().stream().anyMatch(a -> a.address().equals(nextHop))) {
        return Optional.of(arpAnswer(nextHop, e, ""));
      }
      boolean proxyEntry =
          other.neighbours().stream()
              .anyMatch(n -> n.proxy() && n.address().equals(nextHop) && n.dev().equals(l.name()));
      boolean proxyArp =
          IpFamily.of(nextHop) == IpFamily.IPV4
              && Math.max(
                      other.confAll("proxy_arp").orElse(0),
                      other.conf(l.name(), "proxy_arp").orElse(0))
                  > 0;
      if (proxyEntry || proxyArp) {
        RouteDecision via =
            RoutingTable.decide(
                other,
                IpAddress.unspecified(IpFamily.of(nextHop)),
                IpAddress.parse(nextHop),
                0,
                l.name(),
                Optional.empty());
        boolean elsewhere =
            via.found()
                && (via.route().get().isUnicast() || via.route().get().type().equals("local"))
                && via.route().get().nexthops().stream()
                    .noneMatch(n -> n.dev().map(l.name()::equals).orElse(false));
        if (proxyEntry || (elsewhere && other.forwarding(IpFamily.of(nextHop)))) {
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
        (IpFamily.of(nextHop) == IpFamily.IPV4 ? "ARP for " : "neighbour solicitation for ")
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
  List<TraceWorld.Endpoint> segment(NetnsState ns, Link link) {
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
      NetnsState other = world.state(peer.get().netns());
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
}
