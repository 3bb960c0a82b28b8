package dev.tweed.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tweed.dataplane.NftablesWriter;
import dev.tweed.lab.Namespaces;
import dev.tweed.policy.IncrementalPolicyCalculator;
import dev.tweed.policy.LabelSelector;
import dev.tweed.policy.NetworkPolicy;
import dev.tweed.policy.NftablesPolicyRenderer;
import dev.tweed.policy.PolicyPod;
import dev.tweed.proxy.NftablesServiceRenderer;
import dev.tweed.proxy.ProxyNode;
import dev.tweed.proxy.RandomServices;
import dev.tweed.proxy.ServicePort;
import dev.tweed.rules.BlockChange;
import dev.tweed.rules.NftablesRuleset;
import dev.tweed.rules.nft.NftCommand;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The netlink writer against {@code nft -f}, over random Services, endpoints and policies and
 * random sequences of changes (Services one at a time, as the agent renders and writes them): after
 * every change, the table the netlink writer's syncs (partial, full, or a restarted writer's first)
 * have left equals the table {@code nft -f} of the whole rendered ruleset makes in a fresh
 * namespace. Each seed is one sequence; a failure names its seed and step.
 */
class NftWriterEquivalenceIT {
  private static final int STEPS = 25;
  private static final String NETLINK_NS = "tw-eq-netlink";
  private static final String NFT_NS = "tw-eq-nft";

  @AfterEach
  void cleanup() {
    Namespaces.delete(NETLINK_NS);
    Namespaces.delete(NFT_NS);
  }

  @ParameterizedTest(name = "seed {0}")
  @ValueSource(longs = {1, 2, 3})
  void servicesChangedAtRandomLeaveTheTableNftLeaves(long seed) {
    Random random = new Random(seed);
    var renderer =
        new NftablesServiceRenderer(
            new ProxyNode("node-1", "10.244.0.0/16", List.of("172.31.0.11")), "10.96.0.0/16");
    TreeMap<String, List<ServicePort>> services = new TreeMap<>();
    for (int i = 0; i < 12; i++) {
      services.put("svc" + i, RandomServices.service(random, i));
    }
    Namespaces.add(NETLINK_NS);
    // One block per transaction: a Service's ports are committed apart, as the agent commits
    // a partial sync of more than a thousand.
    NftablesWriter netlink = NftablesWriter.inNamespace(NETLINK_NS, false).blocksStandAlone(1);
    netlink.sync(renderer.render(RandomServices.ports(services)), true);
    for (int step = 0; step < STEPS; step++) {
      String changed = RandomServices.changeOne(random, services);
      var update =
          renderer.update(
              Map.of(changed, services.getOrDefault(RandomServices.name(changed), List.of())));
      netlink = sync(netlink, update.ruleset(), Optional.of(update.changes()), random);
      assertSameTable(update.ruleset(), "tweed-proxy", seed, step);
    }
  }

  @ParameterizedTest(name = "seed {0}")
  @ValueSource(longs = {1, 2, 3})
  void podsAndPoliciesChangedAtRandomLeaveTheTableNftLeaves(long seed) {
    Random random = new Random(seed);
    IncrementalPolicyCalculator graph = new IncrementalPolicyCalculator("node-1");
    for (int n = 0; n < 3; n++) {
      graph.namespace("ns" + n, Optional.of(Map.of("team", "t" + (n % 2))));
    }
    for (int i = 0; i < 14; i++) {
      PolicyPod pod = pod(random, i);
      graph.pod(pod.namespace() + "/" + pod.name(), Optional.of(pod));
    }
    for (int j = 0; j < 6; j++) {
      NetworkPolicy p = policy(random, j);
      graph.policy(p.qualifiedName(), Optional.of(p));
    }
    var renderer = new NftablesPolicyRenderer();
    Namespaces.add(NETLINK_NS);
    NftablesWriter netlink = NftablesWriter.inNamespace(NETLINK_NS, false);
    netlink.sync(renderer.render(graph.intent()), true);
    for (int step = 0; step < STEPS; step++) {
      switch (random.nextInt(4)) {
        case 0, 1 -> {
          PolicyPod pod = pod(random, random.nextInt(16));
          graph.pod(
              pod.namespace() + "/" + pod.name(),
              random.nextInt(5) == 0 ? Optional.empty() : Optional.of(pod));
        }
        case 2 -> {
          NetworkPolicy p = policy(random, random.nextInt(8));
          graph.policy(
              p.qualifiedName(), random.nextInt(4) == 0 ? Optional.empty() : Optional.of(p));
        }
        default ->
            graph.namespace(
                "ns" + random.nextInt(3), Optional.of(Map.of("team", "t" + random.nextInt(2))));
      }
      NftablesRuleset rendered = renderer.render(graph.intent());
      netlink = sync(netlink, rendered, Optional.empty(), random);
      assertSameTable(rendered, NftablesPolicyRenderer.TABLE, seed, step);
    }
  }

  /**
   * A partial sync, a scheduled full one, or (one in five) a new writer's first sync over the
   * table, as after the agent restarted: it rewrites the table in place.
   */
  private static NftablesWriter sync(
      NftablesWriter writer,
      NftablesRuleset rendered,
      Optional<List<BlockChange<List<NftCommand>>>> changes,
      Random r) {
    return switch (r.nextInt(5)) {
      case 0 -> {
        NftablesWriter restarted =
            NftablesWriter.inNamespace(NETLINK_NS, false).rewritingInPlaceFrom(0);
        restarted.sync(rendered, true);
        yield restarted;
      }
      case 1 -> {
        changes.ifPresentOrElse(
            c -> writer.sync(rendered, c, true), () -> writer.sync(rendered, true));
        yield writer;
      }
      default -> {
        changes.ifPresentOrElse(
            c -> writer.sync(rendered, c, false), () -> writer.sync(rendered, false));
        yield writer;
      }
    };
  }

  /** nft -f of the whole ruleset in a fresh namespace, compared with the netlink writer's table. */
  private static void assertSameTable(NftablesRuleset rendered, String table, long seed, int step) {
    Namespaces.delete(NFT_NS);
    Namespaces.add(NFT_NS);
    NftablesWriter.inNamespace(NFT_NS, true).sync(rendered, true);
    assertThat(NftablesLayoutIT.normalised(NETLINK_NS, table))
        .as("seed %d, after change %d", seed, step)
        .isEqualTo(NftablesLayoutIT.normalised(NFT_NS, table));
  }

  private static PolicyPod pod(Random r, int i) {
    return new PolicyPod(
        "ns" + (i % 3),
        "pod" + i,
        Map.of("app", "a" + r.nextInt(4), "tier", "t" + r.nextInt(2)),
        Optional.of("10.244.0." + (2 + i)),
        Optional.of(r.nextInt(4) == 0 ? "node-2" : "node-1"),
        List.of(new PolicyPod.NamedPort("http", 8000 + r.nextInt(3), "TCP")),
        Optional.of(String.format("tweq%09d", i)));
  }

  /** Ingress, egress or both, with pod, namespace and address-block peers and every port form. */
  private static NetworkPolicy policy(Random r, int j) {
    List<NetworkPolicy.Rule> rules = new ArrayList<>();
    int ruleCount = r.nextInt(3);
    for (int k = 0; k < ruleCount; k++) {
      List<NetworkPolicy.Peer> peers = new ArrayList<>();
      switch (r.nextInt(4)) {
        case 0 -> peers.add(new NetworkPolicy.PodPeer(Optional.empty(), selector(r)));
        case 1 ->
            peers.add(
                new NetworkPolicy.PodPeer(
                    Optional.of(new LabelSelector(Map.of("team", "t" + r.nextInt(2)), List.of())),
                    selector(r)));
        case 2 ->
            peers.add(
                new NetworkPolicy.IpBlockPeer(
                    "10." + r.nextInt(4) * 16 + ".0.0/12",
                    r.nextBoolean()
                        ? List.of()
                        : List.of("10.1.0.0/16", "10." + r.nextInt(3) + ".4.0/24", "10.2.3.4/32")));
        default -> {}
      }
      List<NetworkPolicy.PolicyPort> ports = new ArrayList<>();
      switch (r.nextInt(4)) {
        case 0 ->
            ports.add(
                new NetworkPolicy.PolicyPort(
                    "TCP", Optional.of(80), Optional.empty(), Optional.empty()));
        case 1 ->
            ports.add(
                new NetworkPolicy.PolicyPort(
                    "UDP", Optional.of(9000), Optional.empty(), Optional.of(9000 + r.nextInt(50))));
        case 2 ->
            ports.add(
                new NetworkPolicy.PolicyPort(
                    "TCP", Optional.empty(), Optional.of("http"), Optional.empty()));
        default -> {}
      }
      rules.add(new NetworkPolicy.Rule(peers, ports));
    }
    int direction = r.nextInt(3);
    return new NetworkPolicy(
        "ns" + (j % 3),
        "policy" + j,
        selector(r),
        direction != 1 ? Optional.of(rules) : Optional.empty(),
        direction != 0 ? Optional.of(rules) : Optional.empty());
  }

  private static LabelSelector selector(Random r) {
    return r.nextInt(5) == 0
        ? new LabelSelector(Map.of(), List.of())
        : new LabelSelector(Map.of("app", "a" + r.nextInt(4)), List.of());
  }
}
