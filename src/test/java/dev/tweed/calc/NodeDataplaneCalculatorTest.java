package dev.tweed.calc;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tweed.Golden;
import dev.tweed.model.Cidr;
import dev.tweed.model.IpamBlock;
import dev.tweed.model.NodeResource;
import dev.tweed.model.WorkloadEndpoint;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class NodeDataplaneCalculatorTest {
  private static final List<NodeResource> NODES =
      List.of(
          new NodeResource("node-1", "172.31.0.11"),
          new NodeResource("node-2", "172.31.0.12"),
          new NodeResource("node-3", "172.31.0.13"));

  private static IpamBlock block(String cidr, String node) {
    return new IpamBlock(Cidr.parse(cidr), node, Map.of(1, new IpamBlock.Allocation("h", "p")));
  }

  private static WorkloadEndpoint ep(String node, String id, String ip) {
    return new WorkloadEndpoint(
        node, id, "eth0", "/run/netns/x", "tw" + id, ip, "02:00:00:00:00:01", "default/" + id);
  }

  private static final ClusterState THREE_NODES =
      new ClusterState(
          NODES,
          List.of(
              block("10.244.0.0/26", "node-1"),
              block("10.244.0.64/26", "node-2"),
              block("10.244.0.128/26", "node-3"),
              block("10.244.0.192/26", "node-2")),
          List.of(
              ep("node-1", "a", "10.244.0.1"),
              ep("node-1", "b", "10.244.0.2"),
              ep("node-2", "c", "10.244.0.65")));

  @Test
  void threeNodeOverlayMatchesGolden() throws IOException {
    String got = new NodeDataplaneCalculator("node-1").calculate(THREE_NODES).render();
    Golden.assertMatches("calc/node-1-of-3.txt", got);
  }

  @Test
  void remoteNodeWithSecondBlockGetsTwoRoutesViaOneVtep() throws IOException {
    String got = new NodeDataplaneCalculator("node-3").calculate(THREE_NODES).render();
    Golden.assertMatches("calc/node-3-of-3.txt", got);
  }

  @Test
  void sameInputsGiveByteIdenticalOutputWhateverTheOrder() {
    ClusterState shuffled =
        new ClusterState(
            List.of(NODES.get(2), NODES.get(0), NODES.get(1)),
            THREE_NODES.blocks().reversed(),
            THREE_NODES.endpoints().reversed());
    var calc = new NodeDataplaneCalculator("node-1");
    assertThat(calc.calculate(shuffled)).isEqualTo(calc.calculate(THREE_NODES));
  }

  @Test
  void nodeWithoutBlocksIsNotRoutedTo() {
    ClusterState s = new ClusterState(NODES, List.of(block("10.244.0.0/26", "node-1")), List.of());
    var dp = new NodeDataplaneCalculator("node-1").calculate(s);
    assertThat(dp.routes()).isEmpty();
    assertThat(dp.fdb()).isEmpty();
    assertThat(dp.tunnels()).singleElement().extracting(v -> v.address()).isEqualTo("10.244.0.0");
  }

  @Test
  void unknownNodeGetsOnlyItsLocalRoutes() {
    var dp = new NodeDataplaneCalculator("node-9").calculate(THREE_NODES);
    assertThat(dp.tunnels()).isEmpty();
    assertThat(dp.routes()).isEmpty();
  }

  @Test
  void vtepMacIsStableLocallyAdministeredUnicast() {
    String mac = VtepIdentity.mac("node-1");
    assertThat(mac).isEqualTo(VtepIdentity.mac("node-1")).matches("([0-9a-f]{2}:){5}[0-9a-f]{2}");
    int first = Integer.parseInt(mac.substring(0, 2), 16);
    assertThat(first & 0x02).isEqualTo(2);
    assertThat(first & 0x01).isZero();
    assertThat(VtepIdentity.mac("node-2")).isNotEqualTo(mac);
  }
}
