package dev.tweed.it;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.lab.ProbeClient;
import dev.tweed.lab.ProbeResult;
import dev.tweed.model.IpFamily;
import dev.tweed.sys.NetworkNamespace;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** Pods as the lab's tests declare and read them. */
final class LabPods {
  private LabPods() {}

  /**
   * A YAML file of pods named {@code <stem><node><i>} in namespace {@code ns}, {@code perNode} on
   * each of {@code nodes} nodes, serving TCP 80, UDP 80 and TCP 8080; the namespace first when
   * {@code withNamespace}.
   */
  static Path yaml(String ns, String stem, int nodes, int perNode, boolean withNamespace)
      throws IOException {
    StringBuilder sb = new StringBuilder();
    if (withNamespace) {
      sb.append("apiVersion: v1\nkind: Namespace\nmetadata: {name: ").append(ns).append("}\n");
    }
    for (int node = 1; node <= nodes; node++) {
      for (int i = 1; i <= perNode; i++) {
        sb.append("---\napiVersion: v1\nkind: Pod\nmetadata: {name: ")
            .append(stem)
            .append(node)
            .append(i)
            .append(", namespace: ")
            .append(ns)
            .append("}\nspec:\n  nodeName: node-")
            .append(node)
            .append(
                "\n  containers: [{name: c, ports: [{containerPort: 80}, {containerPort: 80,"
                    + " protocol: UDP}, {containerPort: 8080}]}]\n");
      }
    }
    Path yaml = Files.createTempFile("pods", ".yaml");
    Files.writeString(yaml, sb.toString());
    return yaml;
  }

  /** Probes every ordered pair over TCP and UDP port 80; returns what failed (empty: all good). */
  static List<String> unreachablePairs(List<JsonNode> pods) throws Exception {
    return unreachablePairs(pods, IpFamily.IPV4);
  }

  /** The same at the pods' addresses of {@code family}. */
  static List<String> unreachablePairs(List<JsonNode> pods, IpFamily family) throws Exception {
    List<String> failures = new ArrayList<>();
    for (JsonNode from : pods) {
      for (JsonNode to : pods) {
        if (from == to) {
          continue;
        }
        for (String proto : List.of("tcp", "udp")) {
          ProbeResult r =
              ProbeClient.probe(netns(from), ip(to, family), 80, proto, Duration.ofSeconds(3));
          if (!r.connected() || !r.answer().equals(name(to))) {
            failures.add(
                name(from)
                    + " -> "
                    + name(to)
                    + " "
                    + proto
                    + " ("
                    + family.apiName()
                    + "): "
                    + (r.connected() ? r.answer() : r.reason()));
          }
        }
      }
    }
    return failures;
  }

  static Path netns(JsonNode pod) {
    return NetworkNamespace.pathOf(
        pod.path("metadata").path("annotations").path("tweed.dev/netns").asText());
  }

  static String ip(JsonNode pod) {
    return pod.path("status").path("podIP").asText();
  }

  /** The pod's address of {@code family}, from {@code status.podIPs}. */
  static String ip(JsonNode pod, IpFamily family) {
    for (JsonNode a : pod.path("status").path("podIPs")) {
      if (IpFamily.of(a.path("ip").asText()) == family) {
        return a.path("ip").asText();
      }
    }
    if (family == IpFamily.IPV4 && !pod.path("status").has("podIPs")) {
      return ip(pod);
    }
    throw new AssertionError(name(pod) + " has no " + family.apiName() + " address");
  }

  static String name(JsonNode pod) {
    return pod.path("metadata").path("namespace").asText()
        + "/"
        + pod.path("metadata").path("name").asText();
  }
}
