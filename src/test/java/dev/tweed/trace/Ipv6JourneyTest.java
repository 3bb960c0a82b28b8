package dev.tweed.trace;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tweed.kernel.Packet;
import dev.tweed.kernel.RouteEntry;
import dev.tweed.model.IpFamily;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * IPv6 journeys through a real capture of a dual-stack three-node lab in iptables mode ({@code
 * tweed lab capture} of examples/services.yaml and examples/trace.yaml with {@code --ip-family
 * dual}): client (fd00:10:244::41) and web-1 on node-1, web-2 (fd00:10:244::1) and the locked pod
 * (fd00:10:244::2) on node-2, web-3 on node-3; Service web at fd00:10:96::a beside 10.96.0.10. Each
 * journey here was checked against the kernel ({@code --verify}) when the capture was taken.
 */
class Ipv6JourneyTest {
  static final TraceWorld WORLD = DumpDirectory.load(Path.of("src/test/resources/trace/dual-lab"));
  static final String CLIENT_NS = "tw-trc6-pod-default-client";

  static List<Outcome> fromClient(String src, String dst, int port) {
    return new Tracer(WORLD).fromLocalProcess(CLIENT_NS, Packet.of(src, dst, "tcp", 40000, port));
  }

  static List<String> details(Outcome o, String step) {
    return o.hops().stream().filter(h -> h.step().equals(step)).map(Hop::detail).toList();
  }

  @Test
  void theCaptureHoldsBothFamiliesRoutesRulesAndIp6tables() {
    var node1 = WORLD.netns("tw-trc6-node-1").orElseThrow();
    assertThat(node1.routes())
        .extracting(RouteEntry::dst)
        .anyMatch(c -> c.family() == IpFamily.IPV6)
        .anyMatch(c -> c.family() == IpFamily.IPV4);
    assertThat(node1.rules()).anyMatch(r -> r.family() == IpFamily.IPV6);
    assertThat(node1.iptablesSave(IpFamily.IPV6)).contains("KUBE-SERVICES", "tweed-FORWARD");
    assertThat(node1.forwarding(IpFamily.IPV6)).isTrue();
    assertThat(node1.link("tweed.vxlan6").orElseThrow().vxlan().orElseThrow().local())
        .hasValue("fd00:172:31::11");
  }

  @Test
  void aPodReachesAPodOnAnotherNodeThroughItsHostsLinkLocalGatewayAndTheIpv6Tunnel() {
    List<Outcome> out = fromClient("fd00:10:244::41", "fd00:10:244::1", 8080);
    assertThat(out).singleElement().extracting(Outcome::verdict).isEqualTo("delivered");
    Outcome o = out.get(0);
    assertThat(details(o, "neighbour").getFirst())
        .startsWith("neighbour solicitation for fe80::ecee:eeff:feee:eeee")
        .endsWith("answers ee:ee:ee:ee:ee:ee");
    assertThat(details(o, "vxlan-encap"))
        .singleElement()
        .asString()
        .contains("encapsulated in UDP fd00:172:31::11 > [fd00:172:31::12]:4789");
    // ip6tables' chains, not iptables': the anti-spoofing and policy jumps of the IPv6 tables.
    assertThat(o.hops())
        .filteredOn(h -> h.step().equals("netfilter"))
        .allMatch(h -> h.packet().orElseThrow().family() == IpFamily.IPV6)
        .anyMatch(h -> h.chain().orElse("").equals("tweed-FORWARD"));
    assertThat(o.reason()).isEqualTo("delivered to default/web-2:8080");
  }

  @Test
  void anIpv6ClusterIpForksIntoItsBackendsAndTheReplyComesBackFromTheServiceAddress() {
    List<Outcome> out = fromClient("fd00:10:244::41", "fd00:10:96::a", 80);
    assertThat(out).hasSize(3).allMatch(o -> o.verdict().equals("delivered"));
    assertThat(out.stream().map(o -> o.nat().getFirst().after()))
        .containsExactlyInAnyOrder(
            "[fd00:10:244::42]:8080", "[fd00:10:244::1]:8080", "[fd00:10:244::c1]:8080");
    for (Outcome forward : out) {
      List<Outcome> reply = new Tracer(WORLD).reply(forward);
      assertThat(reply).singleElement().extracting(Outcome::verdict).isEqualTo("delivered");
      assertThat(reply.getFirst().reason())
          .isEqualTo("the reply reaches default/client at [fd00:10:244::41]:40000");
    }
  }

  @Test
  void aDenyAllPolicyDropsTheIpv6PacketInIp6tables() {
    List<Outcome> out = fromClient("fd00:10:244::41", "fd00:10:244::2", 80);
    assertThat(out).singleElement().extracting(Outcome::verdict).isEqualTo("dropped");
    assertThat(out.getFirst().rule())
        .hasValueSatisfying(r -> assertThat(r).contains("no ingress policy of default/locked"));
  }

  @Test
  void theSameLabsIpv4JourneysStillGoThroughIptables() {
    List<Outcome> out = fromClient("10.244.0.65", "10.96.0.10", 80);
    assertThat(out).hasSize(3).allMatch(o -> o.verdict().equals("delivered"));
    assertThat(out.getFirst().hops())
        .filteredOn(h -> h.step().equals("netfilter"))
        .allMatch(h -> h.packet().orElseThrow().family() == IpFamily.IPV4);
  }
}
