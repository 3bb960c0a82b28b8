package dev.tweed.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.lab.ProbeClient;
import dev.tweed.lab.ProbeResult;
import dev.tweed.model.Json;
import dev.tweed.sys.NetworkNamespace;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * An IPv6-only cluster (on a dual-stack underlay): pods with one IPv6 address, IPv6 Services and
 * their IPv6 EndpointSlices, a NodePort on the nodes' IPv6 addresses, and a NetworkPolicy with an
 * IPv6 ipBlock, all with real traffic.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class Ipv6OnlyIT {
  final Tweed tweed = Tweed.newLab("v6only");
  List<JsonNode> pods = new ArrayList<>();
  Path client;

  @BeforeAll
  void up() throws Exception {
    Path yaml = Files.createTempFile("v6", ".yaml");
    Files.writeString(
        yaml,
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: web-1, labels: {app: web}}
        spec: {nodeName: node-1, containers: [{name: web, ports: [{name: http, containerPort: 8080}, {containerPort: 80}, {containerPort: 80, protocol: UDP}]}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: web-2, labels: {app: web}}
        spec: {nodeName: node-2, containers: [{name: web, ports: [{name: http, containerPort: 8080}, {containerPort: 80}, {containerPort: 80, protocol: UDP}]}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: client, labels: {role: client}}
        spec: {nodeName: node-1, containers: [{name: c}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: stranger}
        spec: {nodeName: node-2, containers: [{name: c}]}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: web}
        spec:
          type: NodePort
          selector: {app: web}
          ports: [{name: http, port: 80, targetPort: http, nodePort: 30666}]
        """);
    tweed.ok("lab", "up", "--nodes", "2", "--ip-family", "ipv6", "-f", yaml.toString());
    Files.delete(yaml);
    Json.parse(tweed.ok("lab", "get", "pods", "-o", "json")).path("items").forEach(pods::add);
    client = NetworkNamespace.pathOf(tweed.prefix() + "pod-default-client");
  }

  @AfterAll
  void down() {
    tweed.ok("lab", "down");
    assertThat(tweed.namespaces()).isEmpty();
  }

  @Test
  @Order(1)
  void podsHaveOneIpv6AddressAndReachEachOther() throws Exception {
    assertThat(pods).hasSize(4);
    for (JsonNode p : pods) {
      assertThat(p.path("status").path("podIPs")).hasSize(1);
      assertThat(LabPods.ip(p)).startsWith("fd00:10:244:");
    }
    assertThat(LabPods.unreachablePairs(pods, dev.tweed.model.IpFamily.IPV6)).isEmpty();
  }

  @Test
  @Order(2)
  void aSingleStackServiceIsIpv6WithIpv6SlicesAndAnswersOnItsNodePorts() throws Exception {
    JsonNode svc =
        Json.parse(tweed.ok("lab", "get", "services", "-o", "json")).path("items").get(0);
    assertThat(svc.path("spec").path("ipFamilies").toString()).isEqualTo("[\"IPv6\"]");
    assertThat(svc.path("spec").path("ipFamilyPolicy").asText()).isEqualTo("SingleStack");
    String ip = svc.path("spec").path("clusterIP").asText();
    assertThat(ip).startsWith("fd00:10:96::");
    JsonNode slices = Json.parse(tweed.ok("lab", "get", "endpointslices", "-o", "json"));
    assertThat(slices.path("items")).isNotEmpty();
    slices.path("items").forEach(s -> assertThat(s.path("addressType").asText()).isEqualTo("IPv6"));
    Set<String> seen = new HashSet<>();
    Tweed.await(
        "both backends answer through " + ip,
        Duration.ofSeconds(15),
        () -> {
          try {
            ProbeResult r = ProbeClient.probe(client, ip, 80, "tcp", Duration.ofSeconds(1));
            if (r.connected()) {
              seen.add(r.answer());
            }
          } catch (Exception e) {
            return false;
          }
          return seen.size() == 2;
        });
    Path router = NetworkNamespace.pathOf(tweed.prefix() + "router");
    for (String node : List.of("fd00:172:31::11", "fd00:172:31::12")) {
      ProbeResult r = ProbeClient.probe(router, node, 30666, "tcp", Duration.ofSeconds(3));
      assertThat(r.connected()).as(node + ": " + r.reason()).isTrue();
      assertThat(r.answer()).startsWith("default/web-");
    }
  }

  @Test
  @Order(3)
  void anIpv6IpBlockAdmitsOnlyItsAddresses() throws Exception {
    String clientIp = tweed.podIp("client");
    Path policy = Files.createTempFile("v6-policy", ".yaml");
    Files.writeString(
        policy,
        """
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: only-client}
        spec:
          podSelector: {matchLabels: {app: web}}
          ingress:
          - from: [{ipBlock: {cidr: "%s/128"}}]
        """
            .formatted(clientIp));
    try {
      tweed.ok("lab", "apply", "-f", policy.toString());
      Path stranger = NetworkNamespace.pathOf(tweed.prefix() + "pod-default-stranger");
      String web1 = tweed.podIp("web-1");
      Tweed.await(
          "the stranger is refused", Duration.ofSeconds(10), () -> !connects(stranger, web1));
      assertThat(connects(client, web1)).as("the client is let in").isTrue();
      // Host bits in an IPv6 ipBlock are refused, and nothing is changed.
      Path sloppy = Files.createTempFile("v6-sloppy", ".yaml");
      Files.writeString(
          sloppy,
          """
          apiVersion: networking.k8s.io/v1
          kind: NetworkPolicy
          metadata: {name: sloppy}
          spec:
            podSelector: {}
            ingress: [{from: [{ipBlock: {cidr: "fd00:10:244::1/64"}}]}]
          """);
      var r = tweed.run("lab", "apply", "-f", sloppy.toString());
      Files.delete(sloppy);
      assertThat(r.exitCode()).isEqualTo(1);
      assertThat(r.stderr())
          .contains("ipBlock.cidr: 'fd00:10:244::1/64' has host bits set: the network is");
      assertThat(tweed.ok("lab", "get", "networkpolicies")).doesNotContain("sloppy");
    } finally {
      tweed.ok("lab", "delete", "-f", policy.toString());
      Files.delete(policy);
    }
  }

  private static boolean connects(Path from, String ip) {
    try {
      return ProbeClient.probe(from, ip, 8080, "tcp", Duration.ofMillis(700)).connected();
    } catch (Exception e) {
      return false;
    }
  }
}
