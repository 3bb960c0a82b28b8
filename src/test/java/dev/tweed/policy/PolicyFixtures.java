package dev.tweed.policy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tweed.lab.LabResources;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** The pods and namespaces the policy tests run against; node-1 is the local node. */
public final class PolicyFixtures {
  private PolicyFixtures() {}

  public static final List<PolicyPod> PODS =
      List.of(
          pod(
              "x",
              "web-1",
              Map.of("app", "web"),
              "10.244.0.2",
              "node-1",
              "tw00000000001",
              List.of(new PolicyPod.NamedPort("http", 8080, "TCP"))),
          pod(
              "x",
              "web-2",
              Map.of("app", "web"),
              "10.244.0.66",
              "node-2",
              "tw00000000002",
              List.of(new PolicyPod.NamedPort("http", 9090, "TCP"))),
          pod(
              "x",
              "monitor",
              Map.of("role", "monitor"),
              "10.244.0.3",
              "node-1",
              "tw00000000003",
              List.of()),
          pod(
              "y",
              "client",
              Map.of("role", "client"),
              "10.244.0.67",
              "node-2",
              "tw00000000004",
              List.of()),
          pod(
              "y",
              "db",
              Map.of("app", "db"),
              "10.244.0.68",
              "node-2",
              "tw00000000005",
              List.of(new PolicyPod.NamedPort("sql", 5432, "TCP"))),
          pod(
              "z",
              "db",
              Map.of("app", "db"),
              "10.244.0.4",
              "node-1",
              "tw00000000006",
              List.of(new PolicyPod.NamedPort("sql", 3306, "TCP"))),
          pod("z", "pending", Map.of("app", "db"), null, null, null, List.of()));

  public static final Map<String, Map<String, String>> NAMESPACES =
      Map.of("x", Map.of("team", "red"), "y", Map.of("team", "blue"), "z", Map.of());

  private static PolicyPod pod(
      String ns,
      String name,
      Map<String, String> labels,
      String ip,
      String node,
      String iface,
      List<PolicyPod.NamedPort> ports) {
    return new PolicyPod(
        ns,
        name,
        labels,
        Optional.ofNullable(ip),
        Optional.ofNullable(node),
        ports,
        node != null && node.equals("node-1") ? Optional.of(iface) : Optional.empty());
  }

  public static List<NetworkPolicy> policies() throws Exception {
    List<NetworkPolicy> out = new ArrayList<>();
    for (ObjectNode o : LabResources.read(Path.of("src/test/resources/policy/cluster.yaml"))) {
      out.add(NetworkPolicyParser.parse(o));
    }
    return out;
  }

  /** The same pods with an IPv6 address each beside the IPv4 one (10.244.0.66: fd00:10:244::42). */
  public static List<PolicyPod> dualStackPods() {
    return PODS.stream()
        .map(
            p ->
                new PolicyPod(
                    p.namespace(),
                    p.name(),
                    p.labels(),
                    p.ip()
                        .map(
                            ip ->
                                List.of(
                                    ip,
                                    "fd00:10:244::"
                                        + Integer.toHexString(
                                            Integer.parseInt(
                                                ip.substring(ip.lastIndexOf('.') + 1)))))
                        .orElse(List.of()),
                    p.node(),
                    p.ports(),
                    p.hostInterface()))
        .toList();
  }

  public static PolicyIntent intent() throws Exception {
    return new PolicyCalculator("node-1").calculate(PODS, NAMESPACES, policies());
  }

  /** The same cluster with an IPv6 address beside each pod's IPv4 one. */
  public static PolicyIntent dualStackIntent() throws Exception {
    return new PolicyCalculator("node-1").calculate(dualStackPods(), NAMESPACES, policies());
  }
}
