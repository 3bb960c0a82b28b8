package dev.tweed.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.lab.LabProcesses;
import dev.tweed.lab.ProbeClient;
import dev.tweed.lab.ProbeResult;
import dev.tweed.model.Json;
import dev.tweed.sys.Command;
import dev.tweed.sys.NetworkNamespace;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Every agent's Prometheus metrics, scraped by a real Prometheus ({@code lab up --monitoring}) and
 * checked by its promtool: every agent up, CNI calls counted, and a drop caused by a NetworkPolicy
 * counted where the datapath dropped it (a rule's counter, or the programs' count).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MetricsIT {
  /** Made once the instance is whole: its name depends on what a subclass overrides. */
  Tweed tweed;

  String dataplane() {
    return "standard";
  }

  String proxyMode() {
    return "iptables";
  }

  @BeforeAll
  void up() {
    tweed = Tweed.newLab("met" + dataplane().charAt(0) + proxyMode().charAt(0));
    tweed.ok(
        "lab",
        "up",
        "--dataplane",
        dataplane(),
        "--proxy",
        proxyMode(),
        "--monitoring",
        "-f",
        Tweed.HOME.resolve("examples/services.yaml").toString());
  }

  @AfterAll
  void down() {
    tweed.ok("lab", "down");
    assertThat(tweed.namespaces()).isEmpty();
    assertThat(
            LabProcesses.find(
                pid ->
                    LabProcesses.argv(pid)
                        .map(a -> String.join(" ", a).contains("/" + tweed.lab() + "/prometheus"))
                        .orElse(false)))
        .as("Prometheus stopped with the lab")
        .isEmpty();
  }

  /** The values of an instant query, by the given label. */
  Map<String, Double> query(String promql, String label) {
    JsonNode r = Json.parse(tweed.ok("lab", "metrics", "--query", promql));
    assertThat(r.path("status").asText()).isEqualTo("success");
    Map<String, Double> out = new TreeMap<>();
    for (JsonNode v : r.path("data").path("result")) {
      out.put(v.path("metric").path(label).asText(), v.path("value").get(1).asDouble());
    }
    return out;
  }

  @Test
  void everyAgentIsScrapedAndItsOutputPassesPromtool() {
    Tweed.await(
        "Prometheus scrapes three agents",
        Duration.ofSeconds(20),
        () -> query("up", "instance").values().stream().filter(v -> v == 1.0).count() == 3);
    assertThat(query("up", "instance"))
        .containsOnlyKeys("172.31.0.11:9091", "172.31.0.12:9091", "172.31.0.13:9091");
    for (String node : List.of("node-1", "node-2", "node-3")) {
      String exposition = tweed.ok("lab", "metrics", node);
      assertThat(exposition).contains("tweed_sync_duration_seconds_bucket{part=\"routes\"");
      Command.Result check =
          Command.exec(List.of("promtool", "check", "metrics"), exposition, Map.of());
      assertThat(check.ok()).as(node + ": " + check.stdout() + check.stderr()).isTrue();
    }
    // Each node ran the CNI ADD of its pods (web-1..3, client): counted by the agent that served
    // it.
    Tweed.await(
        "ADDs counted",
        Duration.ofSeconds(20),
        () ->
            query("sum(tweed_cni_operation_duration_seconds_count{command=\"ADD\"})", "")
                    .getOrDefault("", 0.0)
                >= 4);
  }

  @Test
  void aDropCausedByANetworkPolicyIsCounted() throws Exception {
    Path yaml = Files.createTempFile("deny", ".yaml");
    Files.writeString(
        yaml,
        """
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: web-deny}
        spec: {podSelector: {matchLabels: {app: web}}, policyTypes: [Ingress]}
        """);
    tweed.ok("lab", "apply", "-f", yaml.toString());
    String web1 = tweed.podIp("web-1");
    Path client = NetworkNamespace.pathOf(tweed.prefix() + "pod-default-client");
    String target = web1;
    Tweed.await(
        "the policy refuses the client",
        Duration.ofSeconds(15),
        () -> {
          try {
            ProbeResult r = ProbeClient.probe(client, target, 8080, "tcp", Duration.ofMillis(500));
            return !r.connected();
          } catch (Exception e) {
            return false;
          }
        });
    Tweed.await(
        "the drop in Prometheus",
        Duration.ofSeconds(20),
        () ->
            query("sum(tweed_drops_total{reason=\"policy-denied\"})", "").getOrDefault("", 0.0)
                > 0);
    assertThat(tweed.ok("lab", "metrics", "node-1"))
        .containsPattern("tweed_drops_total\\{reason=\"policy-denied\"} [1-9]");
  }
}
