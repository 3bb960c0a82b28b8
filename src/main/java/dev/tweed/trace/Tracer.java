package dev.tweed.trace;

import dev.tweed.kernel.NetnsState;
import dev.tweed.kernel.Packet;
import java.util.List;
import java.util.Optional;

/**
 * Follows a packet through the kernel model of a set of namespaces: the output or input routing
 * decision, the netfilter hooks in the kernel's order, forwarding, neighbour resolution (with
 * proxy-ARP), veth, bridge and VXLAN crossings, and delivery to a socket. Every random fork is
 * followed; each way the journey can end is one {@link Outcome}.
 */
public final class Tracer {
  private final TraceWorld world;
  private final IpStack stack;

  public Tracer(TraceWorld world) {
    this.world = world;
    this.stack = new IpStack(world);
  }

  /** A packet sent by a process in {@code netns}. */
  public List<Outcome> fromLocalProcess(String netns, Packet p) {
    NetnsState ns = world.state(netns);
    Walk w =
        Walk.start(p)
            .hop(Hop.of(netns, "send", Optional.empty(), world.label(netns) + " sends " + p));
    return stack.localOut(ns, w);
  }

  /** A packet arriving on {@code iface} of {@code netns}. */
  public List<Outcome> arriving(String netns, String iface, Packet p) {
    NetnsState ns = world.state(netns);
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
    return stack.receive(ns, w, iface);
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
        Walk.startReply(r, forward.conntrack(), forward.programConnections(), netns)
            .hop(Hop.of(netns, "send", Optional.empty(), world.label(netns) + " answers " + r));
    return stack.localOut(world.state(netns), w);
  }
}
