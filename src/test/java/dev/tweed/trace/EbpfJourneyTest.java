package dev.tweed.trace;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.kernel.Packet;
import dev.tweed.model.IpFamily;
import dev.tweed.trace.bpf.MapLookup;
import dev.tweed.trace.bpf.ProgramRun;
import dev.tweed.trace.bpf.TcAction;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * Journeys through a real capture of a three-node eBPF lab ({@code tweed lab up --dataplane ebpf}
 * with examples/services.yaml and examples/trace.yaml, then {@code tweed lab capture}): the tc
 * programs' decisions evaluated over the captured maps. client (10.244.0.2) and web-1 (10.244.0.1)
 * on node-1, web-2 and locked (deny-all ingress) on node-2, web-3 on node-3; Service web
 * 10.96.0.10:80, nobody 10.96.0.12:80 without endpoints, web-np with node port 30080.
 */
class EbpfJourneyTest {
  static final TraceWorld WORLD = DumpDirectory.load(Path.of("src/test/resources/trace/ebpf-lab"));
  static final String CLIENT_NS = "tw-trc-pod-default-client";
  static final String CLIENT = "10.244.0.2";

  static List<Outcome> fromClient(String dst, String proto, int port) {
    return new Tracer(WORLD)
        .fromLocalProcess(CLIENT_NS, Packet.of(CLIENT, dst, proto, 40000, port));
  }

  static List<ProgramRun> runs(Outcome o) {
    return o.hops().stream().flatMap(h -> h.bpf().stream()).toList();
  }

  static Optional<MapLookup> lookup(ProgramRun run, String map, String result) {
    return run.lookups().stream()
        .filter(l -> l.map().equals(map) && l.result().contains(result))
        .findFirst();
  }

  @Test
  void theCaptureHoldsEachNodesProgramsAndMaps() {
    var node1 = WORLD.bpf("tw-trc-node-1");
    assertThat(node1.present()).isTrue();
    assertThat(node1.attached("eth0", "ingress"))
        .hasValueSatisfying(a -> assertThat(a.program()).isEqualTo("from_netdev"));
    assertThat(node1.attached("tweed.vxlan", "egress"))
        .hasValueSatisfying(a -> assertThat(a.program()).isEqualTo("to_overlay"));
    assertThat(node1.endpoints()).containsKey(CLIENT);
    assertThat(node1.config())
        .hasValueSatisfying(c -> assertThat(c.nodeIp(IpFamily.IPV4)).isEqualTo("172.31.0.11"));
    assertThat(WORLD.bpf(CLIENT_NS).present()).isFalse();
  }

  @Test
  void aPodToAPodOnAnotherNodeIsRedirectedIntoTheTunnelAndStraightIntoThePeer() {
    List<Outcome> out = fromClient("10.244.0.65", "tcp", 8080);
    assertThat(out).singleElement().extracting(Outcome::verdict).isEqualTo("delivered");
    List<ProgramRun> runs = runs(out.get(0));
    assertThat(runs.stream().map(ProgramRun::program))
        .containsExactly(
            "from_container", "to_overlay", "to_netdev", "from_netdev", "from_overlay");
    ProgramRun first = runs.get(0);
    assertThat(first.action())
        .isEqualTo(
            new TcAction.Redirect(3, Optional.of(new TcAction.TunnelKey("172.31.0.12", 257))));
    assertThat(lookup(first, "tw_ipcache", "tunnel endpoint 172.31.0.12")).isPresent();
    assertThat(lookup(first, "tw_ct", "skipped: a SYN")).isPresent();
    assertThat(runs.get(1).actionText()).contains("already decided");
    assertThat(runs.getLast().action()).isInstanceOf(TcAction.RedirectPeer.class);
    // Past node-2's stack: no routing or netfilter hop in node-2 after from_overlay.
    List<Hop> hops = out.get(0).hops();
    int decap =
        hops.indexOf(hops.stream().filter(h -> h.step().equals("vxlan-decap")).findFirst().get());
    assertThat(hops.subList(decap + 1, hops.size()))
        .filteredOn(h -> h.netns().equals("tw-trc-node-2"))
        .extracting(Hop::step)
        .containsExactly("bpf", "veth");
  }

  @Test
  void aClusterIpForksOncePerBackendSlotEachTranslatedByTheProgram() {
    List<Outcome> out = fromClient("10.96.0.10", "tcp", 80);
    assertThat(out).hasSize(3).allMatch(o -> o.verdict().equals("delivered"));
    assertThat(out).allMatch(o -> Math.abs(o.probability() - 1.0 / 3) < 1e-9);
    assertThat(out.stream().map(o -> o.nat().get(0).after()))
        .containsExactlyInAnyOrder("10.244.0.1:8080", "10.244.0.65:8080", "10.244.0.129:8080");
    assertThat(out).allMatch(o -> o.nat().get(0).where().equals("bpf from_container"));
    assertThat(out.stream().map(o -> runs(o).get(0).choice().orElse("")))
        .allMatch(c -> c.matches("slot [123] of 3 .*"));
    // The local backend is reached without the tunnel.
    Outcome local =
        out.stream()
            .filter(o -> o.nat().get(0).after().startsWith("10.244.0.1:"))
            .findFirst()
            .get();
    assertThat(runs(local))
        .singleElement()
        .satisfies(r -> assertThat(r.action()).isInstanceOf(TcAction.RedirectPeer.class));
  }

  @Test
  void aPolicyDropNamesEveryPolicyEntryTheProgramLookedFor() {
    List<Outcome> out = fromClient("10.244.0.66", "tcp", 80);
    assertThat(out)
        .singleElement()
        .satisfies(
            o -> {
              assertThat(o.verdict()).isEqualTo("dropped");
              assertThat(o.rule()).hasValue("bpf from_overlay: policy-denied");
            });
    ProgramRun last = runs(out.get(0)).getLast();
    assertThat(last.lookups())
        .filteredOn(l -> l.map().equals("tw_policy"))
        .hasSize(4)
        .allMatch(l -> l.result().equals("none"));
    assertThat(last.action()).isInstanceOf(TcAction.Drop.class);
  }

  @Test
  void aServiceWithoutBackendsIsRefusedByTheProgramItself() {
    List<Outcome> out = fromClient("10.96.0.12", "tcp", 80);
    assertThat(out)
        .singleElement()
        .satisfies(
            o -> {
              assertThat(o.verdict()).isEqualTo("rejected");
              assertThat(o.reason()).contains("from_container").contains("icmp-port-unreachable");
            });
  }

  @Test
  void aNodePortFromOutsideIsMasqueradedToTheNodesAddress() {
    List<Outcome> out =
        new Tracer(WORLD)
            .fromLocalProcess(
                "tw-trc-router", Packet.of("172.31.0.1", "172.31.0.12", "tcp", 40000, 30080));
    assertThat(out).hasSize(3).allMatch(o -> o.verdict().equals("delivered"));
    assertThat(out)
        .allSatisfy(
            o ->
                assertThat(o.nat())
                    .anyMatch(
                        n -> n.kind().equals("SNAT") && n.after().equals("172.31.0.12:40000")));
  }

  @Test
  void theJsonRecordCarriesEachProgramRun() {
    List<Outcome> out = fromClient("10.244.0.65", "tcp", 8080);
    JsonNode json =
        new JourneyReport(
                Packet.of(CLIENT, "10.244.0.65", "tcp", 40000, 8080),
                "default/client",
                out,
                WORLD::label)
            .toJson();
    JsonNode bpf = null;
    for (JsonNode h : json.path("hops")) {
      if (h.path("step").asText().equals("bpf")) {
        bpf = h.path("bpf");
        break;
      }
    }
    assertThat(bpf).isNotNull();
    assertThat(bpf.path("program").asText()).isEqualTo("from_container");
    assertThat(bpf.path("hook").asText()).isEqualTo("tc ingress");
    assertThat(bpf.path("device").asText()).startsWith("tw");
    assertThat(bpf.path("lookups").get(0).path("map").asText()).isEqualTo("tw_endpoints");
    assertThat(bpf.path("action").asText()).startsWith("bpf_redirect(ifindex 3)");
  }

  @Test
  void theReplyToAnIsolatedClientPassesItsPolicyAsATrackedConnection() {
    // default/locked (10.244.0.66) allows no ingress; its own connection's reply still arrives.
    Tracer tracer = new Tracer(WORLD);
    List<Outcome> out =
        tracer.fromLocalProcess(
            "tw-trc-pod-default-locked",
            Packet.of("10.244.0.66", "10.244.0.65", "tcp", 40000, 8080));
    assertThat(out).singleElement().extracting(Outcome::verdict).isEqualTo("delivered");
    List<Outcome> back = tracer.reply(out.get(0));
    assertThat(back).singleElement().extracting(Outcome::verdict).isEqualTo("delivered");
    ProgramRun run = runs(back.get(0)).get(0);
    assertThat(lookup(run, "tw_ct", "tracked")).isPresent();
    assertThat(run.lookups()).noneMatch(l -> l.map().equals("tw_policy"));
  }
}
