package dev.tweed.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.lab.ProbeClient;
import dev.tweed.model.Json;
import dev.tweed.sys.NetworkNamespace;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * Four nodes, the first a route reflector: the others peer with it only, and still learn every
 * block with the owning node as next hop, so traffic goes node to node, not through the reflector.
 */
class BgpRouteReflectorIT {

  @Test
  void clientsPeerWithTheReflectorOnlyAndReachEveryPodDirectly() throws Exception {
    Tweed tweed = Tweed.newLab("rr");
    Path yaml = Files.createTempFile("rr", ".yaml");
    try {
      StringBuilder pods = new StringBuilder();
      for (int i = 1; i <= 4; i++) {
        pods.append(
            """
            apiVersion: v1
            kind: Pod
            metadata: {name: p%d}
            spec: {nodeName: node-%d, containers: [{name: c, ports: [{containerPort: 8080}]}]}
            ---
            """
                .formatted(i, i));
      }
      Files.writeString(yaml, pods.toString());
      tweed.ok(
          "lab",
          "up",
          "--nodes",
          "4",
          "--routing",
          "bgp",
          "--route-reflectors",
          "1",
          "-f",
          yaml.toString());
      Tweed.await(
          "every BGP session established",
          Duration.ofSeconds(30),
          () -> tweed.run("lab", "bgp", "status").exitCode() == 0);
      String status = tweed.ok("lab", "bgp", "status");
      // node-1 reflects: 3 sessions; node-2..4: one each, with node-1.
      assertThat(status.lines().filter(l -> l.startsWith("node-1 "))).hasSize(3);
      for (String n : new String[] {"node-2", "node-3", "node-4"}) {
        assertThat(status.lines().filter(l -> l.startsWith(n + " ")))
            .singleElement()
            .asString()
            .contains("node-1");
      }
      Map<String, String> ips = new TreeMap<>();
      for (JsonNode p : Json.parse(tweed.ok("lab", "get", "pods", "-o", "json")).path("items")) {
        ips.put(p.path("metadata").path("name").asText(), p.path("status").path("podIP").asText());
      }
      for (String from : ips.keySet()) {
        for (String to : ips.keySet()) {
          if (!from.equals(to)) {
            assertThat(
                    ProbeClient.probe(
                            NetworkNamespace.pathOf(tweed.prefix() + "pod-default-" + from),
                            ips.get(to),
                            8080,
                            "tcp",
                            Duration.ofSeconds(2))
                        .connected())
                .as(from + " -> " + to)
                .isTrue();
          }
        }
      }
      // Reflected routes keep the owner as next hop: node-2 reaches node-4's block directly.
      assertThat(Tweed.ip(tweed.nodeNs("node-2"), "route"))
          .containsPattern("10\\.244\\.\\S+/26 via 172\\.31\\.0\\.14 dev eth0 proto bird");
    } finally {
      Files.deleteIfExists(yaml);
      tweed.ok("lab", "down");
      assertThat(tweed.namespaces()).isEmpty();
    }
  }
}
