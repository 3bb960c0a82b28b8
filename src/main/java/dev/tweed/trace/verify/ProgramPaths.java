package dev.tweed.trace.verify;

import dev.tweed.kernel.Link;
import dev.tweed.kernel.Packet;
import dev.tweed.trace.Hop;
import dev.tweed.trace.Outcome;
import dev.tweed.trace.TraceWorld;
import dev.tweed.trace.bpf.ProgramRun;
import dev.tweed.trace.bpf.TcAction;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;

/**
 * The tc programs' part of a journey, as comparable steps: the model's program runs on the traced
 * packet (not on VXLAN outer packets, whose source port the model cannot know), and the runs the
 * programs reported for the real packet.
 */
public final class ProgramPaths {
  /** A journey through no Tweed program: nothing to compare. */
  public static final ProgramPaths NONE = new ProgramPaths(null, Set.of(), Map.of());

  private final TraceWorld world;
  private final Set<String> traced;
  private final Map<String, List<ProgramStep>> kernel;

  private ProgramPaths(
      TraceWorld world, Set<String> traced, Map<String, List<ProgramStep>> kernel) {
    this.world = world;
    this.traced = traced;
    this.kernel = kernel;
  }

  /**
   * The tuples to trace for {@code outcomes}: every packet a program received or left on any
   * branch, but VXLAN outer packets.
   */
  public static Set<Packet> tracedPackets(List<Outcome> outcomes, Set<Integer> vxlanPorts) {
    Map<String, Packet> out = new LinkedHashMap<>();
    for (Outcome o : outcomes) {
      for (Hop h : o.hops()) {
        h.bpf()
            .ifPresent(
                run -> {
                  for (Packet p : List.of(run.received(), run.packet())) {
                    if (!outer(p, vxlanPorts)) {
                      out.putIfAbsent(tuple(p), p);
                    }
                  }
                });
      }
    }
    return new LinkedHashSet<>(out.values());
  }

  private static boolean outer(Packet p, Set<Integer> vxlanPorts) {
    return p.proto().equals("udp") && vxlanPorts.contains(p.dport()) && p.sport() == 0;
  }

  /**
   * The comparison for one packet: the model's runs on {@code traced} packets against the events
   * {@code which} selects (the first packet of the connection, or of its reply).
   */
  public static ProgramPaths of(
      TraceWorld world,
      Packet sent,
      Set<Packet> traced,
      List<ProgramEvent> events,
      Predicate<ProgramEvent> which) {
    // The real packet's source port is the kernel's choice; the model's is the trace's. Told
    // apart by it, the kernel's packets are compared as if they had the model's.
    int clientPort =
        events.stream()
            .filter(
                e ->
                    e.in().src().equals(sent.src())
                        && e.in().dst().equals(sent.dst())
                        && e.in().dport() == sent.dport()
                        && e.in().proto().equals(sent.proto()))
            .min(Comparator.comparingLong(ProgramEvent::timeNanos))
            .map(e -> e.in().sport())
            .orElse(sent.sport());
    Set<String> keys = new HashSet<>();
    traced.forEach(p -> keys.add(tuple(p)));
    Map<String, List<ProgramStep>> kernel = new LinkedHashMap<>();
    Set<String> seen = new HashSet<>();
    Set<String> done = new HashSet<>();
    List<ProgramEvent> sorted =
        events.stream()
            .filter(which)
            .map(e -> e.withClientPort(clientPort, sent.sport()))
            .filter(e -> keys.contains(tuple(e.in())))
            .sorted(Comparator.comparingLong(ProgramEvent::timeNanos))
            .toList();
    for (ProgramEvent e : sorted) {
      if (done.contains(e.netns())) {
        continue;
      }
      // The same program seeing the same packet again is a retransmission: the first one's path
      // is the journey.
      String again = e.netns() + " " + e.program() + " " + e.ifindex() + " " + tuple(e.in());
      if (!seen.add(again)) {
        done.add(e.netns());
        continue;
      }
      kernel.computeIfAbsent(e.netns(), k -> new ArrayList<>()).add(step(world, e));
    }
    return new ProgramPaths(world, keys, kernel);
  }

  public Map<String, List<ProgramStep>> kernel() {
    return kernel;
  }

  /** The model's program runs on the traced packet along one branch. */
  public Map<String, List<ProgramStep>> model(Outcome o) {
    Map<String, List<ProgramStep>> out = new LinkedHashMap<>();
    if (world == null) {
      return out;
    }
    for (Hop h : o.hops()) {
      if (h.bpf().isEmpty() || !traced.contains(tuple(h.bpf().get().received()))) {
        continue;
      }
      out.computeIfAbsent(h.netns(), k -> new ArrayList<>())
          .add(step(world, h.netns(), h.bpf().get()));
    }
    return out;
  }

  static String tuple(Packet p) {
    return p.proto() + " " + p.srcEndpoint() + " > " + p.dstEndpoint();
  }

  private static String device(TraceWorld world, String netns, int ifindex) {
    return world
        .netns(netns)
        .flatMap(s -> s.link(ifindex))
        .map(Link::name)
        .orElse("ifindex " + ifindex);
  }

  static ProgramStep step(TraceWorld world, String netns, ProgramRun run) {
    String action =
        switch (run.action()) {
          case TcAction.Pass p ->
              "pass" + p.tunnel().map(t -> ", tunnel to " + t.remote()).orElse("");
          case TcAction.RedirectPeer r -> "redirect_peer " + device(world, netns, r.ifindex());
          case TcAction.Redirect r ->
              "redirect "
                  + device(world, netns, r.ifindex())
                  + r.tunnel().map(t -> ", tunnel to " + t.remote()).orElse("");
          case TcAction.RedirectNeigh r -> "redirect_neigh " + device(world, netns, r.ifindex());
          case TcAction.Drop d -> "drop " + d.reason();
          case TcAction.Reject r -> "reject";
        };
    boolean reject = run.action() instanceof TcAction.Reject;
    return new ProgramStep(
        netns, run.program(), run.device(), action, reject ? "" : tuple(run.packet()));
  }

  static ProgramStep step(TraceWorld world, ProgramEvent e) {
    String tunnel = e.tunnel().isEmpty() ? "" : ", tunnel to " + e.tunnel();
    String action =
        switch (e.rc()) {
          case ProgramEvent.TC_ACT_SHOT -> "drop " + e.reason();
          case ProgramEvent.TC_ACT_REDIRECT ->
              switch (e.kind()) {
                case 1 -> "redirect_peer " + device(world, e.netns(), e.target());
                case 2 -> "redirect " + device(world, e.netns(), e.target()) + tunnel;
                case 3 -> "redirect_neigh " + device(world, e.netns(), e.target());
                case 4 -> "reject";
                default -> "redirect (unknown target)";
              };
          case ProgramEvent.TC_ACT_OK -> "pass" + (e.kind() == 5 ? tunnel : "");
          default -> "returned " + e.rc();
        };
    boolean reject = action.equals("reject");
    return new ProgramStep(
        e.netns(),
        e.program(),
        device(world, e.netns(), e.ifindex()),
        action,
        reject ? "" : tuple(e.out()));
  }
}
