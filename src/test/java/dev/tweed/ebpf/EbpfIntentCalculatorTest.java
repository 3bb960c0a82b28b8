package dev.tweed.ebpf;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tweed.Golden;
import dev.tweed.lab.LabResources;
import dev.tweed.model.Cidr;
import dev.tweed.model.IpamBlock;
import dev.tweed.model.Json;
import dev.tweed.model.NodeResource;
import dev.tweed.policy.IncrementalPolicyCalculator;
import dev.tweed.policy.NetworkPolicy;
import dev.tweed.policy.NetworkPolicyParser;
import dev.tweed.policy.PolicyFixtures;
import dev.tweed.policy.PolicyPod;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
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

  /** Pod selectors only (no ipBlock), so what an endpoint depends on is its peers' identities. */
  private static final String POD_PEERS_ONLY =
      """
      apiVersion: networking.k8s.io/v1
      kind: NetworkPolicy
      metadata: {namespace: x, name: web-from-clients}
      spec:
        podSelector: {matchLabels: {app: web}}
        ingress:
        - from: [{namespaceSelector: {}, podSelector: {matchLabels: {role: client}}}]
          ports: [{port: http}, {port: 8000, endPort: 8100}]
        egress:
        - to: [{namespaceSelector: {}, podSelector: {matchLabels: {app: db}}}]
          ports: [{port: sql}]
      """;

  @Test
  void aCalculatorKeptAcrossChangesGivesWhatAFreshOneGives() throws Exception {
    keptEqualsFresh(PolicyFixtures.policies());
    Path yaml = Files.createTempFile("pod-peers", ".yaml");
    try {
      Files.writeString(yaml, POD_PEERS_ONLY);
      List<NetworkPolicy> podPeers = new ArrayList<>();
      for (var o : LabResources.read(yaml)) {
        podPeers.add(NetworkPolicyParser.parse(o));
      }
      keptEqualsFresh(podPeers);
    } finally {
      Files.delete(yaml);
    }
  }

  private static void keptEqualsFresh(List<NetworkPolicy> policies) {
    for (long seed = 1; seed <= 30; seed++) {
      Random r = new Random(seed);
      EbpfIntentCalculator kept = new EbpfIntentCalculator("node-1");
      var inc = new IncrementalPolicyCalculator("node-1");
      List<PolicyPod> pods = new ArrayList<>(PolicyFixtures.PODS);
      pods.forEach(p -> inc.pod(p.qualifiedName(), Optional.of(p)));
      PolicyFixtures.NAMESPACES.forEach((n, l) -> inc.namespace(n, Optional.of(l)));
      policies.forEach(p -> inc.policy(p.qualifiedName(), Optional.of(p)));
      Map<String, String> macs = new HashMap<>();
      pods.forEach(p -> p.ip().ifPresent(ip -> macs.put(ip, "02:00:00:00:00:01")));
      for (int step = 0; step < 25; step++) {
        int i = r.nextInt(pods.size());
        PolicyPod p = pods.get(i);
        Map<String, String> labels = new HashMap<>(p.labels());
        switch (r.nextInt(3)) {
          case 0 -> labels.put("app", List.of("web", "db", "cache").get(r.nextInt(3)));
          case 1 -> labels.put("role", List.of("client", "monitor").get(r.nextInt(2)));
          default -> labels.remove("role");
        }
        PolicyPod changed =
            new PolicyPod(
                p.namespace(), p.name(), labels, p.ip(), p.node(), p.ports(), p.hostInterface());
        pods.set(i, changed);
        inc.pod(changed.qualifiedName(), Optional.of(changed));
        var inputs =
            new EbpfIntentCalculator.Inputs(
                NODES,
                BLOCKS,
                pods,
                PolicyFixtures.NAMESPACES,
                macs,
                identities(pods),
                inc.intent());
        assertThat(kept.calculate(inputs))
            .as("seed %d step %d", seed, step)
            .isEqualTo(new EbpfIntentCalculator("node-1").calculate(inputs));
      }
    }
  }
}
