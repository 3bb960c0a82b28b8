package dev.tweed.ebpf;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tweed.Golden;
import dev.tweed.model.Cidr;
import dev.tweed.model.IpamBlock;
import dev.tweed.model.Json;
import dev.tweed.model.NodeResource;
import dev.tweed.policy.PolicyFixtures;
import dev.tweed.policy.PolicyPod;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

class EbpfIntentCalculatorTest {
  static final List<NodeResource> NODES =
      List.of(new NodeResource("node-1", "172.31.0.11"), new NodeResource("node-2", "172.31.0.12"));
  static final List<IpamBlock> BLOCKS =
      List.of(
          new IpamBlock(Cidr.parse("10.244.0.0/26"), "node-1", Map.of()),
          new IpamBlock(Cidr.parse("10.244.0.64/26"), "node-2", Map.of()));

  /** Identities as an allocator would give them: 256 up, in the label sets' order. */
  static Map<List<String>, Integer> identities(List<PolicyPod> pods) {
    TreeSet<String> sets = new TreeSet<>();
    Map<String, List<String>> byKey = new HashMap<>();
    for (PolicyPod p : pods) {
      List<String> l =
          Identities.labels(
              p.namespace(),
              p.labels(),
              PolicyFixtures.NAMESPACES.getOrDefault(p.namespace(), Map.of()));
      sets.add(String.join(",", l));
      byKey.put(String.join(",", l), l);
    }
    Map<List<String>, Integer> out = new HashMap<>();
    int id = Identities.FIRST_CLUSTER;
    for (String k : sets) {
      out.put(byKey.get(k), id++);
    }
    return out;
  }

  static EbpfIntent intent() throws Exception {
    Map<String, String> macs = new HashMap<>();
    for (PolicyPod p : PolicyFixtures.PODS) {
      if (p.node().filter("node-1"::equals).isPresent()) {
        macs.put(p.ip().get(), "02:00:00:00:00:0" + macs.size());
      }
    }
    return new EbpfIntentCalculator("node-1")
        .calculate(
            new EbpfIntentCalculator.Inputs(
                NODES,
                BLOCKS,
                PolicyFixtures.PODS,
                PolicyFixtures.NAMESPACES,
                macs,
                identities(PolicyFixtures.PODS),
                PolicyFixtures.intent()));
  }

  @Test
  void mapContentsForTheFixtureCluster() throws Exception {
    Golden.assertMatches(
        "ebpf/node-1-maps.json",
        Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(intent()) + "\n");
  }

  @Test
  void theSameInputsGiveTheSameIntent() throws Exception {
    assertThat(intent()).isEqualTo(intent());
  }

  @Test
  void portRangesBecomeExactlyTheirPortsAsAlignedPrefixes() {
    Random r = new Random(16);
    for (int i = 0; i < 2000; i++) {
      int from = r.nextInt(65536);
      int to = Math.min(65535, from + (i % 3 == 0 ? r.nextInt(65536) : r.nextInt(300)));
      List<Integer> covered = new ArrayList<>();
      for (int[] p : EbpfIntentCalculator.portPrefixes(from, to)) {
        int size = 1 << (16 - p[1]);
        assertThat(p[0] % size).as("aligned").isZero();
        for (int port = p[0]; port < p[0] + size; port++) {
          covered.add(port);
        }
      }
      assertThat(covered).hasSize(to - from + 1);
      assertThat(covered.getFirst()).isEqualTo(from);
      assertThat(covered.getLast()).isEqualTo(to);
      assertThat(new TreeSet<>(covered)).hasSize(covered.size());
    }
    assertThat(EbpfIntentCalculator.portPrefixes(0, 65535)).containsExactly(new int[] {0, 0});
  }
}
