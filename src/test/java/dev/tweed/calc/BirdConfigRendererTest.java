package dev.tweed.calc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tweed.Golden;
import dev.tweed.model.BgpConfiguration;
import dev.tweed.model.Cidr;
import dev.tweed.model.IpFamily;
import dev.tweed.model.IpamBlock;
import dev.tweed.model.NodeResource;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Golden files of the BIRD configuration a node's agent renders (golden/bird/). */
class BirdConfigRendererTest {
  private static final List<NodeResource> NODES =
      List.of(
          new NodeResource("node-1", "172.31.0.11"),
          new NodeResource("node-2", "172.31.0.12"),
          new NodeResource("node-3", "172.31.0.13"),
          new NodeResource("node-4", "172.31.0.14"));

  private static final List<IpamBlock> BLOCKS =
      List.of(
          new IpamBlock(Cidr.parse("10.244.0.0/26"), "node-1", Map.of()),
          new IpamBlock(Cidr.parse("10.244.0.64/26"), "node-2", Map.of()),
          new IpamBlock(Cidr.parse("10.244.0.128/26"), "node-1", Map.of()),
          new IpamBlock(Cidr.parse("10.244.0.192/26"), "node-3", Map.of()));

  @Test
  void aFullMeshNodePeersWithEveryOtherAndAnnouncesItsBlocks() throws IOException {
    String conf = BirdConfigRenderer.render("node-1", NODES, BLOCKS, BgpConfiguration.defaults());
    Golden.assertMatches("bird/full-mesh-node-1.conf", conf);
    assertThat(conf).contains("route 10.244.0.0/26 blackhole;", "route 10.244.0.128/26 blackhole;");
    assertThat(conf).doesNotContain("10.244.0.64/26");
  }

  @Test
  void aDualStackNodeAnnouncesIpv6BlocksOverIpv6Sessions() throws IOException {
    List<NodeResource> nodes =
        List.of(
            new NodeResource("node-1", List.of("172.31.0.11", "fd00:172:31::11")),
            new NodeResource("node-2", List.of("172.31.0.12", "fd00:172:31::12")),
            new NodeResource("node-3", "172.31.0.13"));
    List<IpamBlock> blocks = new java.util.ArrayList<>(BLOCKS);
    blocks.add(new IpamBlock(Cidr.parse("fd00:10:244::/122"), "node-1", Map.of()));
    blocks.add(new IpamBlock(Cidr.parse("fd00:10:244::40/122"), "node-2", Map.of()));
    String conf =
        BirdConfigRenderer.render(
            "node-1",
            nodes,
            blocks,
            BgpConfiguration.defaults(),
            Set.of(IpFamily.IPV4, IpFamily.IPV6));
    Golden.assertMatches("bird/dual-stack-node-1.conf", conf);
    assertThat(conf)
        .contains(
            "protocol static blocks6 {\n  ipv6;\n  route fd00:10:244::/122 blackhole;",
            "protocol bgp peer_node_2_v6 {",
            "neighbor fd00:172:31::12 as")
        .doesNotContain("fd00:10:244::40/122", "peer_node_3_v6");
    // An IPv6-only node still has a 32-bit router id.
    assertThat(BirdConfigRenderer.routerId(new NodeResource("node-9", "fd00:172:31::19")))
        .matches("\\d+\\.\\d+\\.\\d+\\.\\d+");
  }

  @Test
  void aReflectorPeersWithEveryoneAndReflectsToItsClients() throws IOException {
    BgpConfiguration rr =
        BgpConfiguration.defaults().withRouteReflectors(List.of("node-1", "node-2"));
    Golden.assertMatches(
        "bird/route-reflector-node-1.conf", BirdConfigRenderer.render("node-1", NODES, BLOCKS, rr));
  }

  @Test
  void aClientPeersWithTheReflectorsOnly() throws IOException {
    BgpConfiguration rr =
        BgpConfiguration.defaults().withRouteReflectors(List.of("node-1", "node-2"));
    String conf = BirdConfigRenderer.render("node-3", NODES, BLOCKS, rr);
    Golden.assertMatches("bird/route-reflector-client-node-3.conf", conf);
    assertThat(conf).contains("neighbor 172.31.0.11", "neighbor 172.31.0.12");
    assertThat(conf).doesNotContain("neighbor 172.31.0.14");
  }

  @Test
  void withoutBfdTheSessionsRelyOnTheHoldTime() {
    BgpConfiguration noBfd = new BgpConfiguration(64512, 9, 3, 0, 3, false, 5, List.of());
    String conf = BirdConfigRenderer.render("node-2", NODES, BLOCKS, noBfd);
    assertThat(conf).doesNotContain("bfd");
    assertThat(conf).contains("hold time 9;", "graceful restart off;");
  }

  @Test
  void timersThatBgpRejectsAreRefusedHere() {
    assertThatThrownBy(() -> new BgpConfiguration(64512, 2, 1, 100, 3, true, 5, List.of()))
        .hasMessageContaining("hold time");
    assertThatThrownBy(() -> new BgpConfiguration(64512, 9, 5, 100, 3, true, 5, List.of()))
        .hasMessageContaining("keepalive");
  }
}
