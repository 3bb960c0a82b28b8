package dev.tweed.trace;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.kernel.NetnsState;
import dev.tweed.kernel.Packet;
import dev.tweed.kernel.netfilter.IptablesSaveParser;
import dev.tweed.kernel.netfilter.XtTable;
import dev.tweed.model.IpFamily;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

/**
 * Journeys through a real capture of a three-node lab in iptables mode ({@code tweed lab capture}
 * of examples/services.yaml and examples/trace.yaml): client on node-1, web-1..3 on nodes 1..3
 * behind Service web (10.96.0.10), Service nobody (10.96.0.12) without endpoints, and pod locked on
 * node-2 behind a deny-all NetworkPolicy.
 */
class TracerTest {
  static final Path LAB = Path.of("src/test/resources/trace/lab");
  static final TraceWorld WORLD = DumpDirectory.load(LAB);
  static final String CLIENT_NS = "tw-trc-pod-default-client";
  static final String CLIENT = "10.244.0.129";

  static List<Outcome> fromClient(String dst, String proto, int port) {
    return new Tracer(WORLD)
        .fromLocalProcess(CLIENT_NS, Packet.of(CLIENT, dst, proto, 40000, port));
  }

  @Test
  void aClusterIpForksIntoOneBranchPerBackendEachDeliveredAfterDnat() {
    List<Outcome> out = fromClient("10.96.0.10", "tcp", 80);
    assertThat(out).hasSize(3);
    assertThat(out).allMatch(o -> o.verdict().equals("delivered"));
    assertThat(out.stream().mapToDouble(Outcome::probability).sum()).isCloseTo(1.0, within());
    assertThat(out).allMatch(o -> Math.abs(o.probability() - 1.0 / 3) < 1e-6);
    assertThat(out.stream().map(o -> o.nat().get(0).after()))
        .containsExactlyInAnyOrder("10.244.0.130:8080", "10.244.0.1:8080", "10.244.0.65:8080");
    assertThat(out).allMatch(o -> o.nat().get(0).kind().equals("DNAT"));
    assertThat(out.stream().map(Outcome::reason))
        .containsExactlyInAnyOrder(
            "delivered to default/web-1:8080",
            "delivered to default/web-2:8080",
            "delivered to default/web-3:8080");
  }

  private static Offset<Double> within() {
    return Offset.offset(1e-6);
  }

  @Test
  void aCrossNodeJourneyIsEncapsulatedBetweenTheNodesUnderlayAddresses() {
    List<Outcome> out = fromClient("10.244.0.65", "tcp", 8080);
    assertThat(out).singleElement().extracting(Outcome::verdict).isEqualTo("delivered");
    List<Hop> hops = out.get(0).hops();
    assertThat(hops)
        .filteredOn(h -> h.step().equals("vxlan-encap"))
        .singleElement()
        .satisfies(
            h -> {
              assertThat(h.netns()).isEqualTo("tw-trc-node-1");
              assertThat(h.detail()).contains("172.31.0.11 > 172.31.0.13:4789", "VNI 4096");
            });
    assertThat(hops)
        .filteredOn(h -> h.step().equals("vxlan-decap"))
        .singleElement()
        .extracting(Hop::netns)
        .isEqualTo("tw-trc-node-3");
    // The pod's default gateway is answered by proxy-ARP on its host veth, as Calico does it.
    assertThat(hops.get(2).detail()).contains("169.254.1.1");
  }

  @Test
  void networkPolicyDropsAtTheEndpointChainAndSaysWhichRule() {
    List<Outcome> out = fromClient("10.244.0.2", "tcp", 80);
    Outcome o = out.get(0);
    assertThat(o.verdict()).isEqualTo("dropped");
    assertThat(o.rule().orElseThrow())
        .startsWith("-A tweed-tw-")
        .contains("no ingress policy of default/locked allows this")
        .endsWith("-j DROP");
    Hop last = o.hops().get(o.hops().size() - 1);
    assertThat(last.netns()).isEqualTo("tw-trc-node-2");
    assertThat(last.hook()).contains("FORWARD");
    assertThat(last.table()).contains("filter");
    assertThat(last.position()).isPresent();
  }

  @Test
  void aServiceWithoutEndpointsIsRejectedByKubeProxysRule() {
    Outcome o = fromClient("10.96.0.12", "tcp", 80).get(0);
    assertThat(o.verdict()).isEqualTo("rejected");
    assertThat(o.reason()).contains("icmp-port-unreachable");
    assertThat(o.rule().orElseThrow()).contains("default/nobody has no endpoints");
  }

  @Test
  void aPortNobodyListensOnIsAnsweredWithAReset() {
    Outcome o = fromClient("10.244.0.130", "tcp", 9999).get(0);
    assertThat(o.verdict()).isEqualTo("rejected");
    assertThat(o.reason()).contains("TCP reset");
  }

  @Test
  void theRoutersRefusalOfAnUnroutedAddressNeverReachesThePod() {
    // The router answers ICMP net unreachable, but it has no route to pod addresses: the pod
    // hears nothing, as real probes show (TraceIT).
    Outcome o = fromClient("10.96.0.1", "tcp", 80).get(0);
    assertThat(o.verdict()).isEqualTo("dropped");
    assertThat(o.reason())
        .contains("no route to 10.96.0.1 in router")
        .contains("no route back to " + CLIENT);
  }

  @Test
  void aSingleNamespaceCaptureTracesAPacketArrivingOnAnInterface() {
    Path node2 = LAB.resolve("tw-trc-node-2");
    TraceWorld one = DumpDirectory.load(node2);
    List<Outcome> out =
        new Tracer(one)
            .arriving(
                "tw-trc-node-2", "tweed.vxlan", Packet.of(CLIENT, "10.244.0.2", "tcp", 40000, 80));
    assertThat(out).singleElement().extracting(Outcome::verdict).isEqualTo("dropped");
    // The web-2 pod is outside the capture: the packet leaves it.
    List<Outcome> toWeb2 =
        new Tracer(one)
            .arriving(
                "tw-trc-node-2",
                "tweed.vxlan",
                Packet.of(CLIENT, "10.244.0.1", "tcp", 40000, 8080));
    assertThat(toWeb2)
        .singleElement()
        .satisfies(
            o -> {
              assertThat(o.verdict()).isEqualTo("forwarded");
              assertThat(o.egress().orElseThrow().iface()).startsWith("tw");
            });
  }

  @Test
  void theJsonRecordHasTheDocumentedShape() {
    JourneyReport r =
        new JourneyReport(
            Packet.of(CLIENT, "10.96.0.10", "tcp", 40000, 80),
            "default/client",
            fromClient("10.96.0.10", "tcp", 80),
            WORLD::label);
    JsonNode j = r.toJson();
    assertThat(j.path("verdict").asText()).isEqualTo("delivered");
    assertThat(j.path("hops").size()).isGreaterThan(3);
    assertThat(j.path("hops").get(0).path("n").asInt()).isEqualTo(1);
    assertThat(j.path("branches")).hasSize(3);
    JsonNode b = j.path("branches").get(0);
    assertThat(b.path("probability").asDouble()).isCloseTo(1.0 / 3, within());
    assertThat(b.path("nat").get(0).path("kind").asText()).isEqualTo("DNAT");
    assertThat(b.path("hops").get(0).path("n").asInt()).isEqualTo(j.path("hops").size() + 1);
    JsonNode picked = r.pick(2).toJson();
    assertThat(picked.has("branches")).isFalse();
    assertThat(picked.path("nat").get(0).path("after").asText()).endsWith(":8080");
  }

  @Test
  void parsersReadTheRealDumps() throws Exception {
    NetnsState node1 = WORLD.netns("tw-trc-node-1").orElseThrow();
    String save = Files.readString(LAB.resolve("tw-trc-node-1/iptables-save.txt"));
    Map<String, XtTable> tables = IptablesSaveParser.parse(save);
    long rules = save.lines().filter(l -> l.startsWith("-A ")).count();
    assertThat(
            tables.values().stream()
                .mapToLong(t -> t.chains().values().stream().mapToLong(c -> c.rules().size()).sum())
                .sum())
        .isEqualTo(rules);
    assertThat(tables).containsKeys("raw", "nat", "filter");
    assertThat(node1.routes()).anyMatch(r -> r.table().equals("local") && r.type().equals("local"));
    assertThat(node1.fdb()).anyMatch(f -> f.dev().equals("tweed.vxlan") && f.dst().isPresent());
    assertThat(node1.link("tweed.vxlan").orElseThrow().vxlan().orElseThrow().vni()).isEqualTo(4096);
    assertThat(node1.forwarding(IpFamily.IPV4)).isTrue();
    assertThat(node1.netnsIds()).isNotEmpty();
  }

  @Test
  void theReplyOfAServiceConnectionComesBackFromTheServiceAddress() {
    for (Outcome forward : fromClient("10.96.0.10", "tcp", 80)) {
      List<Outcome> reply = new Tracer(WORLD).reply(forward);
      assertThat(reply).singleElement().extracting(Outcome::verdict).isEqualTo("delivered");
      Outcome back = reply.get(0);
      assertThat(back.reason()).isEqualTo("the reply reaches default/client at 10.244.0.129:40000");
      // conntrack on the client's node undoes the DNAT: the client hears from the Service.
      assertThat(back.hops())
          .anyMatch(
              h ->
                  h.step().equals("conntrack")
                      && h.netns().equals("tw-trc-node-1")
                      && h.detail().endsWith("-> 10.96.0.10:80"));
      // The reply is ESTABLISHED wherever the connection went: no nat table sees it (only its
      // VXLAN encapsulation, a flow of its own, is new).
      assertThat(back.hops())
          .noneMatch(
              h ->
                  h.step().equals("netfilter")
                      && h.table().orElse("").equals("nat")
                      && h.packet().map(p -> p.dport() != 4789).orElse(true));
    }
  }

  @Test
  void aRefusedJourneyHasNoReplyToFollow() {
    List<Outcome> out = fromClient("10.96.0.12", "tcp", 80);
    assertThat(out).allMatch(o -> new Tracer(WORLD).reply(o).isEmpty());
  }
}
