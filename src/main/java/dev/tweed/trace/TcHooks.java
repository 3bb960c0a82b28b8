package dev.tweed.trace;

import dev.tweed.kernel.Link;
import dev.tweed.kernel.NetnsState;
import dev.tweed.kernel.Packet;
import dev.tweed.kernel.RouteDecision;
import dev.tweed.kernel.RouteEntry;
import dev.tweed.kernel.RoutingTable;
import dev.tweed.trace.bpf.BpfState;
import dev.tweed.trace.bpf.ProgramConnection;
import dev.tweed.trace.bpf.ProgramRun;
import dev.tweed.trace.bpf.TcAction;
import dev.tweed.trace.bpf.TcAttachment;
import dev.tweed.trace.bpf.TweedPrograms;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.BiFunction;
import java.util.function.Function;

/**
 * A device's tc hooks, where Tweed's eBPF programs meet the packet: ingress right after the device
 * receives it (before the stack's PREROUTING), egress right before it sends it (after the neighbour
 * is resolved). A program's verdict sends the packet on through the stack, straight into a pod
 * ({@code bpf_redirect_peer}), out of another device ({@code bpf_redirect}, {@code
 * bpf_redirect_neigh}), into the VXLAN tunnel, or ends the journey.
 */
final class TcHooks {
  private final TraceWorld world;
  private final Endings endings;
  private final IpStack stack;

  TcHooks(TraceWorld world, Endings endings, IpStack stack) {
    this.world = world;
    this.endings = endings;
    this.stack = stack;
  }

  /** The tc ingress hook of {@code dev}; {@code toStack}: what the stack does when it passes. */
  List<Outcome> ingress(NetnsState ns, Walk w, Link dev, Function<Walk, List<Outcome>> toStack) {
    Optional<TcAttachment> at = world.bpf(ns.name()).attached(dev.name(), "ingress");
    if (at.isEmpty()) {
      return toStack.apply(w);
    }
    return run(ns, w, at.get(), (a, pass) -> toStack.apply(a));
  }

  /**
   * The tc egress hook of {@code dev}; {@code out}: how the device sends what passes, with the
   * tunnel key a program set (or the one it already carries).
   */
  List<Outcome> egress(
      NetnsState ns,
      Walk w,
      Link dev,
      Optional<TcAction.TunnelKey> key,
      BiFunction<Walk, Optional<TcAction.TunnelKey>, List<Outcome>> out) {
    Optional<TcAttachment> at = world.bpf(ns.name()).attached(dev.name(), "egress");
    if (at.isEmpty()) {
      return out.apply(w, key);
    }
    return run(ns, w, at.get(), (a, pass) -> out.apply(a, pass.tunnel().or(() -> key)));
  }

  private List<Outcome> run(
      NetnsState ns,
      Walk w,
      TcAttachment at,
      BiFunction<Walk, TcAction.Pass, List<Outcome>> onPass) {
    BpfState maps = world.bpf(ns.name());
    TweedPrograms programs =
        new TweedPrograms(
            maps,
            (p, ifindex) -> fib(ns, p, ifindex),
            w.programConnections(ns.name()).stream().map(ProgramConnection::connection).toList());
    Packet p = w.packet();
    boolean syn = p.proto().equals("tcp") && !w.reply();
    List<ProgramRun> runs = programs.run(new TweedPrograms.Input(at, p, syn, sentFrom(ns, w)));
    List<Outcome> out = new ArrayList<>();
    for (int i = 0; i < runs.size(); i++) {
      ProgramRun run = runs.get(i);
      Hop hop =
          Hop.program(
              ns.name(),
              run,
              run.program()
                  + " on "
                  + run.device()
                  + run.choice().map(c -> ", backend chosen at random: " + c).orElse(""));
      Walk a =
          w.program(
              run.packet(),
              run.probability(),
              runs.size() > 1 ? List.of(i) : List.of(),
              hop,
              run.nat());
      a =
          a.withProgramConnections(
              run.created().stream().map(c -> new ProgramConnection(ns.name(), c)).toList());
      out.addAll(follow(ns, a, run, onPass));
    }
    return out;
  }

  private List<Outcome> follow(
      NetnsState ns,
      Walk a,
      ProgramRun run,
      BiFunction<Walk, TcAction.Pass, List<Outcome>> onPass) {
    String where = run.program() + " on " + run.device() + " of " + world.label(ns.name());
    return switch (run.action()) {
      case TcAction.Pass pass -> onPass.apply(a, pass);
      case TcAction.Drop d ->
          List.of(
              endings.finish(
                  a,
                  "dropped",
                  "dropped by " + where + ": " + d.reason() + " (" + d.why() + ")",
                  Optional.of("bpf " + run.program() + ": " + d.reason()),
                  Optional.empty()));
      case TcAction.Reject r ->
          List.of(
              endings.finish(
                  a,
                  "rejected",
                  "rejected by " + where + " with icmp-port-unreachable (" + r.why() + ")",
                  Optional.of("bpf " + run.program() + ": service-rejected"),
                  Optional.empty()));
      case TcAction.RedirectPeer r -> intoPeer(ns, a, r.ifindex());
      case TcAction.Redirect r -> {
        Optional<Link> dev = ns.link(r.ifindex());
        if (dev.isEmpty()) {
          yield List.of(
              endings.end(a, "dropped", "redirect to ifindex " + r.ifindex() + ", absent"));
        }
        yield stack.fromDevice(ns, a, dev.get(), a.packet().dstIp(), r.tunnel(), false);
      }
      case TcAction.RedirectNeigh r -> {
        Optional<Link> dev = ns.link(r.ifindex());
        if (dev.isEmpty()) {
          yield List.of(
              endings.end(a, "dropped", "redirect to ifindex " + r.ifindex() + ", absent"));
        }
        yield stack.fromDevice(ns, a, dev.get(), r.nexthop(), Optional.empty(), true);
      }
    };
  }

  /** bpf_redirect_peer: the packet is received by the veth's peer, in the peer's namespace. */
  private List<Outcome> intoPeer(NetnsState ns, Walk a, int ifindex) {
    Optional<Link> veth = ns.link(ifindex);
    Optional<TraceWorld.Endpoint> peer = veth.flatMap(v -> world.peer(ns.name(), v));
    if (peer.isEmpty()) {
      return List.of(
          endings.end(a, "dropped", "bpf_redirect_peer to ifindex " + ifindex + ": no veth peer"));
    }
    Walk b =
        a.hop(
                Hop.of(
                    ns.name(),
                    "veth",
                    Optional.of(veth.get().name()),
                    "redirected to the peer of "
                        + veth.get().name()
                        + ": received by "
                        + world.label(peer.get().netns())
                        + " on "
                        + peer.get().link().name()
                        + ", past "
                        + world.label(ns.name())
                        + "'s stack"))
            .enterNamespace(ns.name(), peer.get().netns());
    return stack.receive(world.state(peer.get().netns()), b, peer.get().link().name());
  }

  /** Whether the packet was sent by a process of {@code ns} (not received from elsewhere). */
  private static boolean sentFrom(NetnsState ns, Walk w) {
    List<Hop> hops = w.hops();
    int i = hops.size() - 1;
    while (i > 0 && hops.get(i - 1).netns().equals(ns.name())) {
      i--;
    }
    return i >= 0
        && hops.get(i).netns().equals(ns.name())
        && (hops.get(i).step().equals("send") || hops.get(i).step().equals("vxlan-encap"));
  }

  /** bpf_fib_lookup over the namespace's routing (BPF_FIB_LOOKUP_SKIP_NEIGH). */
  private static TweedPrograms.FibAnswer fib(NetnsState ns, Packet p, int ifindex) {
    String iif = ns.link(ifindex).map(Link::name).orElse("lo");
    RouteDecision rd = RoutingTable.decide(ns, p.src(), p.dst(), 0, iif, Optional.empty());
    String text = rd.route().map(RouteEntry::text).orElse(rd.outcome());
    return switch (rd.type()) {
      case "unicast" -> {
        RouteEntry.Nexthop nh = rd.route().get().nexthops().get(0);
        int out = nh.dev().flatMap(ns::link).map(Link::ifindex).orElse(0);
        yield new TweedPrograms.FibAnswer(
            TweedPrograms.FibAnswer.Kind.FORWARD, out, nh.gateway().orElse(p.dstIp()), text);
      }
      case "blackhole", "unreachable", "prohibit" ->
          new TweedPrograms.FibAnswer(TweedPrograms.FibAnswer.Kind.REFUSED, 0, "", text);
      default ->
          new TweedPrograms.FibAnswer(TweedPrograms.FibAnswer.Kind.NOT_FORWARDED, 0, "", text);
    };
  }
}
