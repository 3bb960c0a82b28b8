package dev.tweed.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.lab.ProbeClient;
import dev.tweed.model.Json;
import dev.tweed.sys.Command;
import dev.tweed.sys.NetworkNamespace;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * {@code tweed lab observe}: real traffic, and the flows the nodes reported for it, in words: a
 * Service's connection with its backend (the kernel's conntrack events in the standard datapath,
 * the programs' events in eBPF), a policy drop with the policy that isolates the pod and a forged
 * source address (sent by curl from an address the pod does not own): the drop rules' netlink log
 * in the standard datapath, the programs' events in eBPF.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ObserveIT {
  /** Made once the instance is whole: its name depends on what a subclass overrides. */
  Tweed tweed;

  Path client;

  String dataplane() {
    return "standard";
  }

  String proxyMode() {
    return "iptables";
  }

  @BeforeAll
  void up() {
    tweed = Tweed.newLab("obs" + dataplane().charAt(0) + proxyMode().charAt(0));
    tweed.ok(
        "lab",
        "up",
        "--dataplane",
        dataplane(),
        "--proxy",
        proxyMode(),
        "-f",
        Tweed.HOME.resolve("examples/services.yaml").toString());
    client = NetworkNamespace.pathOf(tweed.prefix() + "pod-default-client");
  }

  @AfterAll
  void down() {
    tweed.ok("lab", "down");
    assertThat(tweed.namespaces()).isEmpty();
  }

  List<JsonNode> observe(String... filters) {
    List<String> args = new ArrayList<>(List.of("lab", "observe", "-o", "json"));
    args.addAll(List.of(filters));
    List<JsonNode> out = new ArrayList<>();
    for (String line : tweed.ok(args.toArray(String[]::new)).split("\n")) {
      if (!line.isBlank()) {
        out.add(Json.parse(line));
      }
    }
    return out;
  }

  String podIp(String name) {
    return tweed.podIp(name);
  }

  @Test
  void aServiceConnectionShowsItsServiceAndTheBackendChosen() throws Exception {
    String web =
        Json.parse(tweed.ok("lab", "get", "services", "-o", "json"))
            .path("items")
            .findValues("clusterIP")
            .stream()
            .map(JsonNode::asText)
            .filter(ip -> ip.equals("10.96.0.10"))
            .findFirst()
            .orElseThrow();
    var r = ProbeClient.probe(client, web, 80, "tcp", Duration.ofSeconds(3));
    assertThat(r.connected()).isTrue();
    Tweed.await(
        "the flow reported",
        Duration.ofSeconds(10),
        () -> !observe("--to-service", "default/web", "--node", "node-1").isEmpty());
    JsonNode f = observe("--to-service", "default/web", "--node", "node-1").getLast();
    assertThat(f.path("verdict").asText()).isEqualTo("FORWARDED");
    assertThat(f.path("traffic_direction").asText()).isEqualTo("EGRESS");
    assertThat(f.path("source").path("pod_name").asText()).isEqualTo("client");
    assertThat(f.path("destination").path("pod_name").asText()).isEqualTo(r.answer().substring(8));
    assertThat(f.path("destination").path("labels").toString()).contains("k8s:app=web");
    assertThat(f.path("destination_service").path("name").asText()).isEqualTo("web");
    assertThat(f.path("backend").asText()).isEqualTo(podIp(r.answer().substring(8)) + ":8080");
    assertThat(f.path("l4").path("TCP").path("destination_port").asInt()).isEqualTo(8080);
    // The compact form says the same in one line.
    assertThat(
            tweed.ok(
                "lab", "observe", "--to-service", "default/web", "--last", "1", "--node", "node-1"))
        .contains("default/client:")
        .contains("FORWARDED service default/web:http backend ");
  }

  @Test
  void aPolicyDropNamesThePolicyAndAForgedSourceIsDroppedAsSuch() throws Exception {
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
    String web1 = podIp("web-1");
    Tweed.await(
        "the policy drop reported",
        Duration.ofSeconds(15),
        () -> {
          try {
            ProbeClient.probe(client, web1, 8080, "tcp", Duration.ofMillis(300));
          } catch (Exception e) {
            return false;
          }
          return !observe("--verdict", "DROPPED", "--pod", "default/web-1").isEmpty();
        });
    JsonNode drop = observe("--verdict", "DROPPED", "--pod", "default/web-1").getLast();
    assertThat(drop.path("drop_reason_desc").asText()).isEqualTo("POLICY_DENIED");
    assertThat(drop.path("traffic_direction").asText()).isEqualTo("INGRESS");
    assertThat(drop.path("ingress_denied_by").get(0).path("name").asText()).isEqualTo("web-deny");
    assertThat(drop.path("source").path("pod_name").asText()).isEqualTo("client");

    // A source address the pod does not own, sent by curl: dropped as forged.
    String ns = tweed.prefix() + "pod-default-client";
    Command.run(
        List.of("ip", "netns", "exec", ns, "ip", "addr", "add", "10.244.99.99/32", "dev", "eth0"));
    Command.exec(
        List.of(
            "ip",
            "netns",
            "exec",
            ns,
            "curl",
            "-s",
            "--max-time",
            "1",
            "--interface",
            "10.244.99.99",
            "telnet://" + podIp("web-2") + ":8080"),
        "",
        Map.of());
    Tweed.await(
        "the forged source reported",
        Duration.ofSeconds(10),
        () ->
            observe("--verdict", "DROPPED", "--node", "node-1").stream()
                .anyMatch(f -> f.path("drop_reason_desc").asText().equals("INVALID_SOURCE_IP")));
    JsonNode forged =
        observe("--verdict", "DROPPED", "--node", "node-1").stream()
            .filter(f -> f.path("drop_reason_desc").asText().equals("INVALID_SOURCE_IP"))
            .findFirst()
            .orElseThrow();
    assertThat(forged.path("IP").path("source").asText()).isEqualTo("10.244.99.99");
    assertThat(forged.path("trace_observation_point").asText())
        .isEqualTo(dataplane().equals("ebpf") ? "from_container" : "netfilter PREROUTING");
    // Counted in the metrics too.
    assertThat(tweed.ok("lab", "metrics", "node-1"))
        .containsPattern("tweed_flows_total\\{verdict=\"DROPPED\"} [1-9]");
  }
}
