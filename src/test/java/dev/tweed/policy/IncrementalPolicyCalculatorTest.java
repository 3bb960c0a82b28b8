package dev.tweed.policy;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * Applying any sequence of changes incrementally gives the intent that computing it from scratch
 * gives: random pods (labels, addresses, nodes, named ports), namespaces and policies (every kind
 * of peer and port), changed in random order, compared after every step.
 */
class IncrementalPolicyCalculatorTest {
  private static final List<String> NAMESPACES = List.of("x", "y", "z");
  private static final List<String> APPS = List.of("web", "db", "cache");

  @Test
  void incrementalEqualsFromScratchAfterEveryChange() {
    for (long seed = 1; seed <= 40; seed++) {
      Random r = new Random(seed);
      IncrementalPolicyCalculator inc = new IncrementalPolicyCalculator("node-1");
      PolicyCalculator scratch = new PolicyCalculator("node-1");
      Map<String, PolicyPod> pods = new TreeMap<>();
      Map<String, Map<String, String>> namespaces = new HashMap<>();
      Map<String, NetworkPolicy> policies = new TreeMap<>();
      for (int step = 0; step < 60; step++) {
        switch (r.nextInt(10)) {
          case 0, 1, 2, 3, 4 -> {
            String name = NAMESPACES.get(r.nextInt(3)) + "/p" + r.nextInt(8);
            if (r.nextInt(6) == 0) {
              pods.remove(name);
              inc.pod(name, Optional.empty());
            } else {
              PolicyPod p = pod(r, name);
              pods.put(name, p);
              inc.pod(name, Optional.of(p));
            }
          }
          case 5 -> {
            String ns = NAMESPACES.get(r.nextInt(3));
            Map<String, String> labels =
                r.nextBoolean() ? Map.of("team", "t" + r.nextInt(2)) : Map.of();
            namespaces.put(ns, labels);
            inc.namespace(ns, Optional.of(labels));
          }
          default -> {
            String ns = NAMESPACES.get(r.nextInt(3));
            String name = ns + "/np" + r.nextInt(5);
            if (r.nextInt(5) == 0) {
              policies.remove(name);
              inc.policy(name, Optional.empty());
            } else {
              NetworkPolicy p = policy(r, ns, name.substring(ns.length() + 1));
              policies.put(name, p);
              inc.policy(name, Optional.of(p));
            }
          }
        }
        PolicyIntent want =
            scratch.calculate(
                new ArrayList<>(pods.values()), namespaces, new ArrayList<>(policies.values()));
        assertThat(inc.intent()).as("seed %d step %d", seed, step).isEqualTo(want);
      }
    }
  }

  private static PolicyPod pod(Random r, String name) {
    String[] nsName = name.split("/");
    Map<String, String> labels = new HashMap<>();
    labels.put("app", APPS.get(r.nextInt(APPS.size())));
    if (r.nextBoolean()) {
      labels.put("tier", "t" + r.nextInt(2));
    }
    String node = "node-" + (1 + r.nextInt(2));
    boolean addressed = r.nextInt(8) != 0;
    return new PolicyPod(
        nsName[0],
        nsName[1],
        labels,
        addressed ? Optional.of("10.244.0." + (2 + r.nextInt(60))) : Optional.empty(),
        Optional.of(node),
        r.nextBoolean()
            ? List.of(new PolicyPod.NamedPort("http", 8000 + r.nextInt(3), "TCP"))
            : List.of(),
        node.equals("node-1") && addressed
            ? Optional.of("tw" + Integer.toHexString(name.hashCode()))
            : Optional.empty());
  }

  private static LabelSelector selector(Random r) {
    return switch (r.nextInt(3)) {
      case 0 -> new LabelSelector(Map.of(), List.of());
      case 1 -> new LabelSelector(Map.of("app", APPS.get(r.nextInt(APPS.size()))), List.of());
      default -> new LabelSelector(Map.of("tier", "t" + r.nextInt(2)), List.of());
    };
  }

  private static NetworkPolicy.Peer peer(Random r) {
    return switch (r.nextInt(4)) {
      case 0 -> new NetworkPolicy.IpBlockPeer("10.244.0.0/24", List.of("10.244.0.32/28"));
      case 1 ->
          new NetworkPolicy.PodPeer(
              Optional.of(new LabelSelector(Map.of("team", "t" + r.nextInt(2)), List.of())),
              selector(r));
      default -> new NetworkPolicy.PodPeer(Optional.empty(), selector(r));
    };
  }

  private static NetworkPolicy.PolicyPort port(Random r) {
    return switch (r.nextInt(4)) {
      case 0 ->
          new NetworkPolicy.PolicyPort(
              "TCP", Optional.empty(), Optional.of("http"), Optional.empty());
      case 1 ->
          new NetworkPolicy.PolicyPort(
              "TCP", Optional.of(9000), Optional.empty(), Optional.of(9010));
      case 2 ->
          new NetworkPolicy.PolicyPort("UDP", Optional.of(53), Optional.empty(), Optional.empty());
      default ->
          new NetworkPolicy.PolicyPort("TCP", Optional.empty(), Optional.empty(), Optional.empty());
    };
  }

  private static List<NetworkPolicy.Rule> rules(Random r) {
    List<NetworkPolicy.Rule> out = new ArrayList<>();
    for (int i = r.nextInt(3); i > 0; i--) {
      List<NetworkPolicy.Peer> peers = new ArrayList<>();
      for (int j = r.nextInt(3); j > 0; j--) {
        peers.add(peer(r));
      }
      List<NetworkPolicy.PolicyPort> ports = new ArrayList<>();
      for (int j = r.nextInt(3); j > 0; j--) {
        ports.add(port(r));
      }
      out.add(new NetworkPolicy.Rule(peers, ports));
    }
    return out;
  }

  private static NetworkPolicy policy(Random r, String ns, String name) {
    int types = r.nextInt(3);
    return new NetworkPolicy(
        ns,
        name,
        selector(r),
        types != 1 ? Optional.of(rules(r)) : Optional.empty(),
        types != 0 ? Optional.of(rules(r)) : Optional.empty());
  }
}
