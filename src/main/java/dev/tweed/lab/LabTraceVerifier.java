package dev.tweed.lab;

import dev.tweed.kernel.Packet;
import dev.tweed.kernel.nftables.NftTraceEvent;
import dev.tweed.sys.NetworkNamespace;
import dev.tweed.trace.Outcome;
import dev.tweed.trace.TraceWorld;
import dev.tweed.trace.verify.JourneyCheck;
import dev.tweed.trace.verify.KernelTraceRecorder;
import dev.tweed.trace.verify.LiveRulePositions;
import dev.tweed.trace.verify.ProgramEvent;
import dev.tweed.trace.verify.ProgramPaths;
import dev.tweed.trace.verify.ProgramTraceRecorder;
import dev.tweed.trace.verify.RulePositions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;

/**
 * Sends traced packets for real in a lab, with nftables tracing on in every lab namespace, and
 * compares the kernel's path and verdict with the model's. One instance checks many flows in turn;
 * flows must not overlap, since a flow's events are those recorded while it runs.
 */
public final class LabTraceVerifier implements AutoCloseable {
  private static final Duration QUIET = Duration.ofMillis(40);
  private static final int RESENDS = 3;
  private static final Duration RESEND_PAUSE = Duration.ofMillis(300);
  private static final Duration PROGRAMS_QUIET = Duration.ofMillis(100);
  private final KernelTraceRecorder recorder;
  private final Optional<ProgramTraceRecorder> programs;
  private final Duration timeout;
  private int resent;

  private LabTraceVerifier(
      KernelTraceRecorder recorder, Optional<ProgramTraceRecorder> programs, Duration timeout) {
    this.recorder = recorder;
    this.programs = programs;
    this.timeout = timeout;
  }

  /**
   * @param timeout how long a sender waits for an answer before calling its packet dropped
   */
  public static LabTraceVerifier start(LabLayout layout, Duration timeout) throws Exception {
    List<String> names =
        Namespaces.list().stream().filter(n -> n.startsWith(layout.prefix())).sorted().toList();
    // Nodes running the eBPF datapath: their programs report traced packets too.
    Map<String, Path> pins = new LinkedHashMap<>();
    String nodePrefix = layout.prefix() + "node-";
    for (String n : names) {
      if (n.startsWith(nodePrefix)) {
        Path dir = LabBpf.pinDir(layout, n.substring(layout.prefix().length()));
        if (Files.exists(dir.resolve("tw_endpoints"))) {
          pins.put(n, dir);
        }
      }
    }
    KernelTraceRecorder recorder = KernelTraceRecorder.start(names);
    try {
      Optional<ProgramTraceRecorder> programs =
          pins.isEmpty() ? Optional.empty() : Optional.of(ProgramTraceRecorder.start(pins));
      return new LabTraceVerifier(recorder, programs, timeout);
    } catch (RuntimeException e) {
      recorder.close();
      throw e;
    }
  }

  /** Tracing in the named namespaces, wherever they come from. */
  public static LabTraceVerifier start(List<String> namespaces, Duration timeout) throws Exception {
    return new LabTraceVerifier(KernelTraceRecorder.start(namespaces), Optional.empty(), timeout);
  }

  /** Sends {@code p} from a process in {@code fromNetns} and compares with the model's outcomes. */
  public JourneyCheck.Result check(
      TraceWorld world, String fromNetns, Packet p, List<Outcome> outcomes) throws Exception {
    return check(world, fromNetns, p, outcomes, o -> List.of());
  }

  /**
   * As above, and when the packet was delivered, the reply too: {@code replies} gives the model's
   * way back for the branch the kernel took ({@code Tracer::reply}).
   *
   * <p>When a rule of the kernel's path was rewritten by an agent's sync before its position could
   * be read, the packet is sent again (up to three times, a moment apart); if that never reads
   * every position, the rules without one are compared by chain and the result says so in a note.
   */
  public JourneyCheck.Result check(
      TraceWorld world,
      String fromNetns,
      Packet p,
      List<Outcome> outcomes,
      Function<Outcome, List<Outcome>> replies)
      throws Exception {
    JourneyCheck.Result r = checkOnce(world, fromNetns, p, outcomes, replies);
    for (int i = 0; i < RESENDS && r.positionsUnread(); i++) {
      resent++;
      Thread.sleep(RESEND_PAUSE);
      r = checkOnce(world, fromNetns, p, outcomes, replies);
    }
    return r;
  }

  /** How many packets were sent again because a rule's position could not be read. */
  public int resent() {
    return resent;
  }

  private JourneyCheck.Result checkOnce(
      TraceWorld world,
      String fromNetns,
      Packet p,
      List<Outcome> outcomes,
      Function<Outcome, List<Outcome>> replies)
      throws Exception {
    if (!p.proto().equals("tcp") && !p.proto().equals("udp")) {
      throw new IllegalArgumentException(
          "--verify sends TCP and UDP packets only, not " + p.proto());
    }
    recorder.drain(Duration.ZERO);
    Set<Packet> traced = ProgramPaths.tracedPackets(outcomes, world.vxlanPorts());
    if (programs.isPresent()) {
      programs.get().drain(Duration.ZERO);
      programs.get().arm(traced.isEmpty() ? Set.of(p) : traced);
    }
    ProbeResult sent;
    List<ProgramEvent> runs = List.of();
    try {
      sent =
          ProbeClient.probe(
              NetworkNamespace.pathOf(fromNetns), p.dstIp(), p.dport(), p.proto(), timeout);
    } finally {
      if (programs.isPresent()) {
        runs = programs.get().drain(PROGRAMS_QUIET);
        programs.get().disarm();
      }
    }
    Map<String, List<NftTraceEvent>> events = recorder.drain(QUIET);
    String kernel =
        sent.connected() ? "delivered" : sent.reason().equals("timed out") ? "dropped" : "rejected";
    // Positions as the kernel has them now, read once for this packet.
    RulePositions positions = new LiveRulePositions();
    boolean tcp = p.proto().equals("tcp");
    ProgramPaths forward =
        programs.isEmpty()
            ? ProgramPaths.NONE
            : ProgramPaths.of(world, p, traced, runs, e -> !tcp || e.syn());
    JourneyCheck.Result r =
        JourneyCheck.check(
            outcomes, events, positions, world.vxlanPorts(), kernel, world::label, forward);
    if (!kernel.equals("delivered") || !r.modelVerdict().equals("delivered")) {
      return r;
    }
    List<Outcome> back = replies.apply(outcomes.get(r.branch()));
    if (back.isEmpty()) {
      return r;
    }
    // The sender got its answer: the reply was delivered.
    Set<Packet> tracedBack = ProgramPaths.tracedPackets(back, world.vxlanPorts());
    ProgramPaths backward =
        programs.isEmpty()
            ? ProgramPaths.NONE
            : ProgramPaths.of(world, p, tracedBack, runs, e -> !tcp || e.synAck());
    return r.withReply(
        JourneyCheck.check(
            back,
            events,
            positions,
            world.vxlanPorts(),
            "delivered",
            world::label,
            backward,
            r.kernelPasses()));
  }

  @Override
  public void close() {
    try {
      programs.ifPresent(ProgramTraceRecorder::close);
    } finally {
      recorder.close();
    }
  }
}
