package dev.tweed.trace.verify;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tweed.kernel.Packet;
import dev.tweed.kernel.nftables.NftTraceEvent;
import dev.tweed.kernel.nftables.NftTraceParser;
import dev.tweed.trace.DumpDirectory;
import dev.tweed.trace.Outcome;
import dev.tweed.trace.TraceWorld;
import dev.tweed.trace.Tracer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The comparison over a real recording: a capture of a three-node lab in iptables mode, and what
 * {@code nft -a monitor trace} printed in each of its namespaces while default/client (node-1)
 * connected to Service web (10.96.0.10:80); the kernel picked web-2 on node-2.
 */
class JourneyCheckTest {
  static final Path DIR = Path.of("src/test/resources/trace/verify");
  static final TraceWorld WORLD = DumpDirectory.load(DIR.resolve("capture"));
  static final Packet SYN = Packet.of("10.244.0.129", "10.96.0.10", "tcp", 40000, 80);

  static Map<String, List<NftTraceEvent>> events() throws IOException {
    Map<String, List<NftTraceEvent>> out = new LinkedHashMap<>();
    try (Stream<Path> files = Files.list(DIR.resolve("events")).sorted()) {
      for (Path f : files.toList()) {
        List<NftTraceEvent> list = new ArrayList<>();
        for (String line : Files.readAllLines(f)) {
          NftTraceParser.parse(line).ifPresent(list::add);
        }
        out.put(f.getFileName().toString().replace(".txt", ""), list);
      }
    }
    return out;
  }

  static List<Outcome> model() {
    return new Tracer(WORLD).fromLocalProcess("tw-vfy-pod-default-client", SYN);
  }

  @Test
  void theKernelsPathIsTheModelsBranchThroughWeb2() throws IOException {
    JourneyCheck.Result r =
        JourneyCheck.check(
            model(), events(), RulePositions.of(WORLD), WORLD.vxlanPorts(), "delivered", n -> n);
    assertThat(r.differences()).isEmpty();
    assertThat(model().get(r.branch()).reason()).isEqualTo("delivered to default/web-2:8080");
    assertThat(r.kernel().keySet()).containsExactly("tw-vfy-node-1", "tw-vfy-node-2");
    assertThat(r.kernel().get("tw-vfy-node-1"))
        .anyMatch(
            s ->
                s.chain().startsWith("KUBE-SEP-")
                    && s.rule().contains("dnat to 10.244.0.1:8080")
                    && s.outcome().equals("accept"));
    assertThat(r.rules()).isEqualTo(r.kernel().values().stream().mapToInt(List::size).sum());
  }

  @Test
  void theReplyTakesTheModelsWayBack() throws IOException {
    JourneyCheck.Result forward =
        JourneyCheck.check(
            model(), events(), RulePositions.of(WORLD), WORLD.vxlanPorts(), "delivered", n -> n);
    List<Outcome> back = new Tracer(WORLD).reply(model().get(forward.branch()));
    JourneyCheck.Result reply =
        JourneyCheck.check(
            back, events(), RulePositions.of(WORLD), WORLD.vxlanPorts(), "delivered", n -> n);
    assertThat(reply.differences()).isEmpty();
    // The SYN-ACK crosses node-2 and node-1 ESTABLISHED: the policy's conntrack shortcut.
    assertThat(reply.kernel().get("tw-vfy-node-1"))
        .anyMatch(s -> s.chain().equals("tweed-FORWARD") && s.position() == 1);
    assertThat(forward.withReply(reply).agree()).isTrue();
  }

  @Test
  void aRuleWhosePositionCouldNotBeReadIsANoteNotADifference() throws IOException {
    // The KUBE-SERVICES chain was rewritten before the trace was read: its rules' handles name
    // nothing any more (as `nft monitor trace` then prints "unknown rule").
    RulePositions capture = RulePositions.of(WORLD);
    RulePositions rewritten =
        (ns, family, table, chain, handle) ->
            chain.equals("KUBE-SERVICES")
                ? Optional.empty()
                : capture.position(ns, family, table, chain, handle);
    JourneyCheck.Result r =
        JourneyCheck.check(model(), events(), rewritten, WORLD.vxlanPorts(), "delivered", n -> n);
    assertThat(r.kernel().get("tw-vfy-node-1"))
        .anyMatch(s -> s.chain().equals("KUBE-SERVICES") && s.position() == 0);
    assertThat(r.positionsUnread()).isTrue();
    assertThat(r.differences()).isEmpty();
    assertThat(r.notes()).anyMatch(n -> n.contains("compared by chain only"));
  }

  @Test
  void aDifferentVerdictIsADifference() throws IOException {
    JourneyCheck.Result r =
        JourneyCheck.check(
            model(), events(), RulePositions.of(WORLD), WORLD.vxlanPorts(), "dropped", n -> n);
    assertThat(r.agree()).isFalse();
    assertThat(r.differences())
        .singleElement()
        .asString()
        .startsWith("verdict: the model says delivered");
  }

  @Test
  void aNamespaceWhoseRulesTheKernelNeverRanIsADifference() throws IOException {
    Map<String, List<NftTraceEvent>> events = events();
    events.remove("tw-vfy-node-2");
    JourneyCheck.Result r =
        JourneyCheck.check(
            model(), events, RulePositions.of(WORLD), WORLD.vxlanPorts(), "delivered", n -> n);
    assertThat(r.differences())
        .anyMatch(
            d ->
                d.startsWith(
                        "tw-vfy-node-2: after 0 rules in common, the model matched raw/PREROUTING #1")
                    && d.endsWith("the kernel matched no further rule"));
  }

  @Test
  void repliesAndLaterPacketsOfTheConnectionAreNotPartOfThePath() throws IOException {
    // The recording holds the SYN, the SYN-ACK, the handshake's ACK, data and FINs.
    long passes =
        events().get("tw-vfy-node-1").stream()
            .filter(e -> e.table().equals(TraceWorld.TRACE_TABLE))
            .filter(e -> e.kind() == NftTraceEvent.Kind.PACKET)
            .count();
    assertThat(passes).isGreaterThan(4);
    JourneyCheck.Result r =
        JourneyCheck.check(
            model(), events(), RulePositions.of(WORLD), WORLD.vxlanPorts(), "delivered", n -> n);
    assertThat(r.kernel().get("tw-vfy-node-1"))
        .noneMatch(
            s -> s.chain().equals("KUBE-SERVICES") && s.table().equals("nat") && s.position() == 0);
  }

  @Test
  void anOuterVxlanFlowTheKernelAlreadyTrackedMaySkipTheNatTable() throws IOException {
    Map<String, List<NftTraceEvent>> events = events();
    for (String ns : List.of("tw-vfy-node-1", "tw-vfy-node-2")) {
      Map<String, Boolean> outer = new HashMap<>();
      List<NftTraceEvent> kept = new ArrayList<>();
      for (NftTraceEvent e : events.get(ns)) {
        if (e.table().equals(TraceWorld.TRACE_TABLE) && e.header().isPresent()) {
          outer.put(e.id(), e.header().get().dport() == 4789);
        }
        if (!(e.table().equals("nat") && outer.getOrDefault(e.id(), false))) {
          kept.add(e);
        }
      }
      events.put(ns, kept);
    }
    JourneyCheck.Result r =
        JourneyCheck.check(
            model(), events, RulePositions.of(WORLD), WORLD.vxlanPorts(), "delivered", n -> n);
    assertThat(r.differences()).isEmpty();
    assertThat(r.notes()).singleElement().asString().contains("outer VXLAN flow");
    JourneyCheck.Result strict =
        JourneyCheck.check(model(), events, RulePositions.of(WORLD), Set.of(), "delivered", n -> n);
    assertThat(strict.differences()).isNotEmpty();
  }

  @Test
  void parsesEveryKindOfLine() {
    NftTraceEvent rule =
        NftTraceParser.parse(
                "trace id 98d2b459 ip nat PREROUTING rule udp dport 98 counter packets 0 bytes 0"
                    + " dnat to 10.9.0.2:99 # handle 2 (verdict accept)")
            .orElseThrow();
    assertThat(rule.kind()).isEqualTo(NftTraceEvent.Kind.RULE);
    assertThat(rule.handle()).contains(2L);
    assertThat(rule.verdict()).isEqualTo("accept");
    assertThat(rule.text()).isEqualTo("udp dport 98 dnat to 10.9.0.2:99");
    NftTraceEvent packet =
        NftTraceParser.parse(
                "trace id 98d2b459 ip tweed-trace prerouting packet: iif \"tw-vb\" ether saddr"
                    + " d6:9f:84:a8:e3:c2 ether daddr 7a:f7:6a:53:c4:88 ip saddr 10.9.0.1 ip daddr"
                    + " 10.9.0.2 ip dscp cs0 ip ecn not-ect ip ttl 64 ip id 55954 ip length 31 udp"
                    + " sport 36885 udp dport 98 udp length 11 @th,64,24 0x68690a ")
            .orElseThrow();
    assertThat(packet.header())
        .contains(new NftTraceEvent.Header("10.9.0.1", "10.9.0.2", "udp", 36885, 98));
    assertThat(
            NftTraceParser.parse("trace id 1 ip filter INPUT policy accept ").orElseThrow().kind())
        .isEqualTo(NftTraceEvent.Kind.POLICY);
    NftTraceEvent unknown =
        NftTraceParser.parse("trace id 07dc6dd4 ip filter X unknown rule handle 5 (verdict return)")
            .orElseThrow();
    assertThat(unknown.kind()).isEqualTo(NftTraceEvent.Kind.RULE);
    assertThat(unknown.handle()).contains(5L);
    assertThat(unknown.verdict()).isEqualTo("return");
    assertThat(NftTraceParser.parse("# Warning: table ip filter is managed by iptables-nft"))
        .isEqualTo(Optional.empty());
  }
}
