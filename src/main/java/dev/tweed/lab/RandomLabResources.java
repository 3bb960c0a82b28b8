package dev.tweed.lab;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * A random cluster for a lab, reproducible from its seed: pods with random labels, ports and nodes
 * in two namespaces; Services of every kind the lab serves (ClusterIP, NodePort, session affinity,
 * selectors that match nothing); NetworkPolicies with pod selectors, namespace selectors, ipBlocks
 * with exceptions, ports, ingress and egress. What the trace fidelity check walks through. For a
 * dual-stack lab the same draws make the same cluster, with Services of both families
 * (PreferDualStack) and each ipBlock given its IPv6 twin.
 */
public final class RandomLabResources {
  private static final List<String> APPS = List.of("a", "b", "c");
  private static final List<String> NAMESPACES = List.of("default", "other");

  private RandomLabResources() {}

  /** The resources as YAML, for {@link LabResources#read(String, String)}. */
  public static String yaml(long seed, int nodes) {
    return yaml(seed, nodes, false);
  }

  /** The same, for a dual-stack lab when {@code dualStack}. */
  public static String yaml(long seed, int nodes, boolean dualStack) {
    Random rnd = new Random(seed);
    List<String> docs = new ArrayList<>();
    docs.add("apiVersion: v1\nkind: Namespace\nmetadata: {name: other, labels: {team: other}}");
    int pods = 5 + rnd.nextInt(4);
    for (int i = 1; i <= pods; i++) {
      docs.add(pod(rnd, i, nodes));
    }
    int services = 2 + rnd.nextInt(3);
    for (int i = 1; i <= services; i++) {
      docs.add(service(rnd, i, dualStack));
    }
    int policies = rnd.nextInt(4);
    for (int i = 1; i <= policies; i++) {
      docs.add(policy(rnd, i, dualStack));
    }
    return String.join("\n---\n", docs) + "\n";
  }

  private static <T> T pick(Random rnd, List<T> from) {
    return from.get(rnd.nextInt(from.size()));
  }

  private static String pod(Random rnd, int i, int nodes) {
    List<String> ports = new ArrayList<>();
    if (rnd.nextInt(3) > 0) {
      ports.add("{containerPort: 8080}");
    }
    if (rnd.nextBoolean()) {
      ports.add("{containerPort: 80}");
    }
    if (rnd.nextBoolean()) {
      ports.add("{containerPort: 53, protocol: UDP}");
    }
    return """
        apiVersion: v1
        kind: Pod
        metadata: {name: p%d, namespace: %s, labels: {app: %s}}
        spec: {nodeName: node-%d, containers: [{name: c, ports: [%s]}]}"""
        .formatted(
            i,
            pick(rnd, NAMESPACES),
            pick(rnd, APPS),
            1 + rnd.nextInt(nodes),
            String.join(", ", ports));
  }

  private static String service(Random rnd, int i, boolean dualStack) {
    String app = rnd.nextInt(6) == 0 ? "nobody" : pick(rnd, APPS);
    List<String> ports = new ArrayList<>();
    ports.add("{name: http, port: 80, targetPort: 8080}");
    if (rnd.nextBoolean()) {
      ports.add("{name: dns, port: 53, targetPort: 53, protocol: UDP}");
    }
    if (rnd.nextInt(3) == 0) {
      ports.add("{name: alt, port: 81, targetPort: 80}");
    }
    String type = rnd.nextInt(3) == 0 ? "NodePort" : "ClusterIP";
    String affinity = rnd.nextInt(4) == 0 ? ", sessionAffinity: ClientIP" : "";
    return """
        apiVersion: v1
        kind: Service
        metadata: {name: s%d, namespace: %s}
        spec: {type: %s, selector: {app: %s}, ports: [%s]%s%s}"""
        .formatted(
            i,
            pick(rnd, NAMESPACES),
            type,
            app,
            String.join(", ", ports),
            affinity,
            dualStack ? ", ipFamilyPolicy: PreferDualStack" : "");
  }

  private static String policy(Random rnd, int i, boolean dualStack) {
    boolean ingress = rnd.nextInt(3) > 0;
    boolean egress = !ingress || rnd.nextInt(3) == 0;
    List<String> types = new ArrayList<>();
    StringBuilder rules = new StringBuilder();
    if (ingress) {
      types.add("Ingress");
      rules.append(", ingress: [").append(rule(rnd, "from", dualStack)).append(']');
    }
    if (egress) {
      types.add("Egress");
      rules.append(", egress: [").append(rule(rnd, "to", dualStack)).append(']');
    }
    return """
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: np%d, namespace: %s}
        spec: {podSelector: {matchLabels: {app: %s}}, policyTypes: [%s]%s}"""
        .formatted(i, pick(rnd, NAMESPACES), pick(rnd, APPS), String.join(", ", types), rules);
  }

  /** One ingress ("from") or egress ("to") rule; sometimes none at all (deny all). */
  private static String rule(Random rnd, String direction, boolean dualStack) {
    String peer =
        switch (rnd.nextInt(5)) {
          case 0 -> "";
          case 1 -> direction + ": [{podSelector: {matchLabels: {app: " + pick(rnd, APPS) + "}}}]";
          case 2 -> direction + ": [{namespaceSelector: {matchLabels: {team: other}}}]";
          case 3 -> {
            // A node's block excepted: IPv4's /26 at 64 * k, IPv6's /122 at the same offset.
            int block = rnd.nextInt(4) * 64;
            yield direction
                + ": [{ipBlock: {cidr: 10.244.0.0/16, except: [10.244.0."
                + block
                + "/26]}}"
                + (dualStack
                    ? ", {ipBlock: {cidr: \"fd00:10:244::/56\", except: [\"fd00:10:244::"
                        + Integer.toHexString(block)
                        + "/122\"]}}"
                    : "")
                + "]";
          }
          default -> direction + ": [{podSelector: {}}]";
        };
    String ports =
        switch (rnd.nextInt(3)) {
          case 0 -> "ports: [{port: 8080}]";
          case 1 -> "ports: [{port: 53, protocol: UDP}, {port: 80}]";
          default -> "";
        };
    if (peer.isEmpty() && ports.isEmpty()) {
      return "";
    }
    return "{" + (peer.isEmpty() ? ports : ports.isEmpty() ? peer : peer + ", " + ports) + "}";
  }
}
