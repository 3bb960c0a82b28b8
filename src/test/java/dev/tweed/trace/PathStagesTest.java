package dev.tweed.trace;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tweed.kernel.NetnsState;
import dev.tweed.kernel.Packet;
import dev.tweed.kernel.RouteDecision;
import dev.tweed.kernel.RoutingTable;
import java.util.List;
import java.util.Optional;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

/**
 * Each stage of the kernel's path on its own, over the captured three-node lab of {@link
 * TracerTest}: what it decides for one packet, without the stages before or after it.
 */
class PathStagesTest {
  static final TraceWorld WORLD = TracerTest.WORLD;
  static final NetnsState NODE1 = WORLD.state("tw-trc-node-1");
  static final NetnsState ROUTER = WORLD.state("tw-trc-router");
  static final Endings ENDINGS = new Endings(WORLD);

  private static String clientVeth() {
    return NODE1.links().stream()
        .filter(
            l -> WORLD.peer(NODE1.name(), l).map(p -> p.netns().endsWith("client")).orElse(false))
        .findFirst()
        .orElseThrow()
        .name();
  }

  @Test
  void routingReadsTheDecisionAsAHopNamingTheRoute() {
    RoutingDecisions routing = new RoutingDecisions(WORLD, ENDINGS);
    Packet p = Packet.of("10.244.0.129", "10.244.0.65", "tcp", 40000, 8080);
    RouteDecision rd =
        RoutingTable.decide(NODE1, p.src(), p.dst(), 0, clientVeth(), Optional.empty());
    Hop hop = routing.routeHop(NODE1, rd, "input");
    assertThat(hop.rule()).hasValueSatisfying(r -> assertThat(r).contains("tweed.vxlan"));
    assertThat(routing.routeFailure(NODE1, Walk.start(p), rd, false)).isEmpty();
    assertThat(RoutingDecisions.outIface(rd)).isEqualTo("tweed.vxlan");
  }

  @Test
  void routingEndsAJourneyWithNoRouteAsARejection() {
    RoutingDecisions routing = new RoutingDecisions(WORLD, ENDINGS);
    Packet p = Packet.of("172.31.0.1", "10.244.9.9", "tcp", 40000, 80);
    RouteDecision rd = RoutingTable.decide(ROUTER, p.src(), p.dst(), 0, "lo", Optional.empty());
    Walk w = Walk.start(p).hop(Hop.of(ROUTER.name(), "send", Optional.empty(), "test"));
    Optional<Outcome> end = routing.routeFailure(ROUTER, w, rd, true);
    if (rd.found()) {
      // The router's default route would carry it: then it is not a failure at all.
      assertThat(end).isEmpty();
    } else {
      assertThat(end).hasValueSatisfying(o -> assertThat(o.verdict()).isEqualTo("rejected"));
    }
  }

  @Test
  void aHookForksAtKubeProxysStatisticRulesAndTranslatesEachBranch() {
    NetfilterHooks hooks = new NetfilterHooks(WORLD, ENDINGS);
    Walk w = Walk.start(Packet.of("10.244.0.129", "10.96.0.10", "tcp", 40000, 80));
    HookResult r = hooks.run(NODE1, w, "PREROUTING", Optional.of(clientVeth()), Optional.empty());
    assertThat(r.ended()).isEmpty();
    assertThat(r.continuing()).hasSize(3);
    assertThat(r.continuing()).allMatch(Walk::dnat);
    assertThat(r.continuing().stream().mapToDouble(Walk::probability).sum())
        .isCloseTo(1.0, Offset.offset(1e-9));
    assertThat(r.continuing().get(0).hops())
        .anyMatch(h -> h.step().equals("netfilter") && h.chain().orElse("").startsWith("KUBE-"));
  }

  @Test
  void aHookEndsTheJourneyOfAPacketItRejects() {
    NetfilterHooks hooks = new NetfilterHooks(WORLD, ENDINGS);
    Walk w =
        Walk.start(Packet.of("10.244.0.129", "10.96.0.12", "tcp", 40000, 80))
            .hop(Hop.of(NODE1.name(), "receive", Optional.of(clientVeth()), "test"));
    HookResult pre = hooks.run(NODE1, w, "PREROUTING", Optional.of(clientVeth()), Optional.empty());
    List<Outcome> ended =
        pre.continuing().stream()
            .flatMap(
                a ->
                    hooks
                        .run(NODE1, a, "FORWARD", Optional.of(clientVeth()), Optional.of("eth0"))
                        .ended()
                        .stream())
            .toList();
    assertThat(ended)
        .singleElement()
        .satisfies(
            o -> {
              assertThat(o.verdict()).isEqualTo("rejected");
              assertThat(o.rule()).hasValueSatisfying(r -> assertThat(r).contains("REJECT"));
            });
  }

  @Test
  void theNeighbourIsWhoeverAnswersTheArpRequestOnTheLink() {
    NeighbourResolver neighbours = new NeighbourResolver(WORLD);
    var eth0 = NODE1.link("eth0").orElseThrow();
    Optional<NeighbourResolver.Resolved> router = neighbours.resolve(NODE1, eth0, "172.31.0.1");
    assertThat(router).isPresent();
    String routerMac =
        ROUTER.links().stream()
            .filter(l -> l.addresses().stream().anyMatch(a -> a.address().equals("172.31.0.1")))
            .findFirst()
            .orElseThrow()
            .mac();
    assertThat(router.get().mac()).isEqualToIgnoringCase(routerMac);
    assertThat(neighbours.resolve(NODE1, eth0, "172.31.0.250")).isEmpty();
  }

  @Test
  void aSocketTakesWhatItListensForAndTheKernelAnswersTheRest() {
    IpStack stack = new IpStack(WORLD);
    SocketDelivery sockets =
        new SocketDelivery(
            WORLD,
            ENDINGS,
            new VxlanTunnel(
                WORLD,
                ENDINGS,
                new NeighbourResolver(WORLD),
                new TcHooks(WORLD, ENDINGS, stack),
                stack));
    NetnsState web1 = WORLD.state("tw-trc-pod-default-web-1");
    Walk open = Walk.start(Packet.of("10.244.0.129", "10.244.0.130", "tcp", 40000, 8080));
    assertThat(sockets.deliver(web1, open, "eth0"))
        .singleElement()
        .extracting(Outcome::verdict)
        .isEqualTo("delivered");
    Walk closed =
        Walk.start(Packet.of("10.244.0.129", "10.244.0.130", "tcp", 40000, 22))
            .hop(Hop.of(web1.name(), "receive", Optional.of("eth0"), "test"));
    assertThat(sockets.deliver(web1, closed, "eth0"))
        .singleElement()
        .satisfies(o -> assertThat(o.reason()).contains("TCP reset"));
  }

  @Test
  void vxlanEncapsulatesForTheNodeTheFdbNamesAndLeavesByTheUnderlay() {
    IpStack stack = new IpStack(WORLD);
    VxlanTunnel vxlan =
        new VxlanTunnel(
            WORLD,
            ENDINGS,
            new NeighbourResolver(WORLD),
            new TcHooks(WORLD, ENDINGS, stack),
            stack);
    var vx = NODE1.link("tweed.vxlan").orElseThrow();
    Walk w =
        Walk.start(Packet.of("10.244.0.129", "10.244.0.65", "tcp", 40000, 8080))
            .hop(Hop.of(NODE1.name(), "send", Optional.empty(), "test"));
    List<Outcome> out = vxlan.encapsulate(NODE1, w, vx, "10.244.0.64", Optional.empty(), true);
    assertThat(out).singleElement().extracting(Outcome::verdict).isEqualTo("delivered");
    Hop encap =
        out.get(0).hops().stream().filter(h -> h.step().equals("vxlan-encap")).findFirst().get();
    assertThat(encap.detail()).contains("172.31.0.11 > 172.31.0.13");
  }
}
