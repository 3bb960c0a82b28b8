package dev.tweed.trace.verify;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tweed.kernel.Packet;
import dev.tweed.trace.DumpDirectory;
import dev.tweed.trace.Outcome;
import dev.tweed.trace.TraceWorld;
import dev.tweed.trace.Tracer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The eBPF part of {@code --verify} on a recording: a three-node eBPF lab captured, then four flows
 * from default/client (10.244.0.2, node-1) sent for real with tracing on, and the events the
 * programs wrote to {@code tw_trace_events} kept as they came ({@code program-events.txt}:
 * namespace and the event's bytes, one per line, each flow after a "==" line).
 */
class ProgramCheckTest {
  static final Path LAB = Path.of("src/test/resources/trace/ebpf-lab");
  static final TraceWorld WORLD = DumpDirectory.load(LAB);
  static final String CLIENT_NS = "tw-trc-pod-default-client";
  static final Map<String, List<ProgramEvent>> RECORDED = recorded();

  private static Map<String, List<ProgramEvent>> recorded() {
    Map<String, List<ProgramEvent>> flows = new LinkedHashMap<>();
    List<ProgramEvent> current = null;
    try {
      for (String line : Files.readAllLines(LAB.resolve("program-events.txt"))) {
        if (line.startsWith("== ")) {
          current = new ArrayList<>();
          flows.put(line.substring(3), current);
        } else if (!line.isBlank()) {
          String[] f = line.split(" ");
          current.add(ProgramEvent.decode(f[0], HexFormat.of().parseHex(f[1])));
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return flows;
  }

  static JourneyCheck.Result check(Packet p, String kernelVerdict, List<ProgramEvent> events) {
    Tracer tracer = new Tracer(WORLD);
    List<Outcome> outcomes = tracer.fromLocalProcess(CLIENT_NS, p);
    Set<Packet> traced = ProgramPaths.tracedPackets(outcomes, WORLD.vxlanPorts());
    ProgramPaths paths = ProgramPaths.of(WORLD, p, traced, events, ProgramEvent::syn);
    return JourneyCheck.check(
        outcomes,
        Map.of(),
        RulePositions.of(WORLD),
        WORLD.vxlanPorts(),
        kernelVerdict,
        WORLD::label,
        paths);
  }

  @Test
  void anEventDecodesToTheProgramItsActionAndThePacketBothWays() {
    ProgramEvent first = RECORDED.get("default/web-2 8080 tcp").get(0);
    assertThat(first.netns()).isEqualTo("tw-trc-node-1");
    assertThat(first.program()).isEqualTo("from_container");
    assertThat(first.rc()).isEqualTo(ProgramEvent.TC_ACT_REDIRECT);
    assertThat(first.tunnel()).isEqualTo("172.31.0.12");
    assertThat(first.syn()).isTrue();
    assertThat(first.in().dstEndpoint()).isEqualTo("10.244.0.65:8080");
    assertThat(first.in().srcIp()).isEqualTo("10.244.0.2");
    assertThat(first.in().sport()).isNotEqualTo(40000); // the kernel chose the client's port
  }

  @Test
  void theRecordedRunsOfAPodToPodConnectionAreTheModelsProgramByProgram() {
    JourneyCheck.Result r =
        check(
            Packet.of("10.244.0.2", "10.244.0.65", "tcp", 40000, 8080),
            "delivered",
            RECORDED.get("default/web-2 8080 tcp"));
    assertThat(r.differences()).isEmpty();
    assertThat(r.programs()).isEqualTo(3);
    assertThat(r.kernelPrograms().get("tw-trc-node-2"))
        .singleElement()
        .satisfies(s -> assertThat(s.action()).startsWith("redirect_peer "));
  }

  @Test
  void aServiceConnectionAgreesOnTheBranchWhoseBackendTheKernelChose() {
    Packet p = Packet.of("10.244.0.2", "10.96.0.10", "tcp", 40000, 80);
    JourneyCheck.Result r = check(p, "delivered", RECORDED.get("10.96.0.10 80 tcp"));
    assertThat(r.differences()).isEmpty();
    assertThat(r.modelPrograms().values().iterator().next().get(0).packet())
        .isEqualTo("tcp 10.244.0.2:40000 > 10.244.0.1:8080");
  }

  @Test
  void aPolicyDropAndAServiceRefusalAgreeOnTheProgramThatEndedThem() {
    JourneyCheck.Result drop =
        check(
            Packet.of("10.244.0.2", "10.244.0.66", "tcp", 40000, 80),
            "dropped",
            RECORDED.get("default/locked 80 tcp"));
    assertThat(drop.differences()).isEmpty();
    assertThat(drop.kernelPrograms().get("tw-trc-node-2").getLast().action())
        .isEqualTo("drop policy-denied");
    JourneyCheck.Result reject =
        check(
            Packet.of("10.244.0.2", "10.96.0.12", "tcp", 40000, 80),
            "rejected",
            RECORDED.get("10.96.0.12 80 tcp"));
    assertThat(reject.differences()).isEmpty();
    assertThat(reject.programs()).isEqualTo(1);
  }

  @Test
  void aRunThatDecidedOtherwiseIsNamedWithBothSides() {
    // The recording with node-2's from_overlay dropping the packet instead of redirecting it.
    List<ProgramEvent> tampered = new ArrayList<>();
    for (ProgramEvent e : RECORDED.get("default/web-2 8080 tcp")) {
      boolean target = e.netns().equals("tw-trc-node-2") && e.program().equals("from_overlay");
      tampered.add(
          target
              ? new ProgramEvent(
                  e.timeNanos(),
                  e.traceId(),
                  e.netns(),
                  e.ifindex(),
                  e.program(),
                  ProgramEvent.TC_ACT_SHOT,
                  0,
                  0,
                  "policy-denied",
                  "",
                  e.mark(),
                  e.tcpFlags(),
                  e.in(),
                  e.out())
              : e);
    }
    JourneyCheck.Result r =
        check(Packet.of("10.244.0.2", "10.244.0.65", "tcp", 40000, 8080), "delivered", tampered);
    assertThat(r.differences())
        .anySatisfy(
            d ->
                assertThat(d)
                    .startsWith("node-2: after 0 program runs in common")
                    .contains("the model ran from_overlay on tweed.vxlan: redirect_peer")
                    .contains("the kernel ran from_overlay on tweed.vxlan: drop policy-denied"));
  }

  @Test
  void eventsOfAnotherFlowAreNotComparedAtAll() {
    JourneyCheck.Result r =
        check(
            Packet.of("10.244.0.2", "10.244.0.65", "tcp", 40000, 8080),
            "delivered",
            RECORDED.get("10.96.0.12 80 tcp"));
    assertThat(r.kernelPrograms()).isEmpty();
    assertThat(r.differences())
        .anySatisfy(d -> assertThat(d).contains("the kernel ran no further program"));
  }
}
