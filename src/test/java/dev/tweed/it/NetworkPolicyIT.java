package dev.tweed.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.lab.NetpolConformance;
import dev.tweed.lab.ProbeClient;
import dev.tweed.model.IpFamilies;
import dev.tweed.model.IpFamily;
import dev.tweed.model.Json;
import dev.tweed.sys.Command;
import dev.tweed.sys.NetworkNamespace;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * NetworkPolicy in a 3-node lab: the conformance suite, anti-spoofing, node and Service traffic.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class NetworkPolicyIT {
  /** Made once the instance is whole: its name depends on what a subclass overrides. */
  Tweed tweed;

  private Path scratch;

  /** The proxy (and policy) mode the lab runs; a subclass runs every test in the other one. */
  String proxyMode() {
    return "iptables";
  }

  /**
   * The lab's IP families: dual-stack, so that one run of each datapath's suite covers IPv4 (the
   * primary family) and IPv6 alike; IPv4-only labs are the other suites'.
   */
  String ipFamily() {
    return "dual";
  }

  List<IpFamily> families() {
    return IpFamilies.parse(ipFamily()).families();
  }

  /** The datapath the lab runs: standard (policy in netfilter), or ebpf (policy in programs). */
  String dataplane() {
    return "standard";
  }

  @BeforeAll
  void up() throws Exception {
    tweed = Tweed.newLab(ipFamily().equals("ipv4") ? "np" : "np6");
    scratch = Files.createTempDirectory("netpol-it");
    Path model = scratch.resolve("model.yaml");
    Files.writeString(model, NetpolConformance.modelYaml());
    tweed.ok(
        "lab",
        "up",
        "--proxy",
        proxyMode(),
        "--dataplane",
        dataplane(),
        "--ip-family",
        ipFamily(),
        "--nodes",
        "3",
        "-f",
        model.toString());
  }

  @AfterAll
  void down() throws Exception {
    tweed.ok("lab", "down");
    assertThat(tweed.namespaces()).isEmpty();
    try (var files = Files.list(scratch)) {
      for (Path p : files.toList()) {
        Files.delete(p);
      }
    }
    Files.delete(scratch);
  }

  @AfterEach
  void removePolicies() throws Exception {
    for (String f : List.of("policy.yaml", "service.yaml")) {
      Path p = scratch.resolve(f);
      if (Files.exists(p)) {
        tweed.ok("lab", "delete", "-f", p.toString());
        Files.delete(p);
      }
    }
  }

  private void apply(String file, String yaml) throws Exception {
    Path p = scratch.resolve(file);
    Files.writeString(p, yaml);
    tweed.ok("lab", "apply", "-f", p.toString());
  }

  private JsonNode pod(String ref) {
    String[] nsName = ref.split("/");
    for (JsonNode p : Json.parse(tweed.ok("lab", "get", "pods", "-o", "json")).path("items")) {
      if (p.path("metadata").path("namespace").asText().equals(nsName[0])
          && p.path("metadata").path("name").asText().equals(nsName[1])) {
        return p;
      }
    }
    throw new AssertionError("no pod " + ref);
  }

  private String ipOf(String ref) {
    return pod(ref).path("status").path("podIP").asText();
  }

  private String ipOf(String ref, IpFamily f) {
    return LabPods.ip(pod(ref), f);
  }

  private Path netnsOf(String ref) {
    return NetworkNamespace.pathOf(tweed.prefix() + "pod-" + ref.replace('/', '-'));
  }

  private boolean connects(Path from, String ip, int port) throws Exception {
    return ProbeClient.probe(from, ip, port, "tcp", Duration.ofMillis(1500)).connected();
  }

  private void awaitConnects(Path from, String ip, int port, boolean want) {
    Tweed.await(
        ip + ":" + port + (want ? " connects" : " is blocked"),
        Duration.ofSeconds(15),
        () -> {
          try {
            return connects(from, ip, port) == want;
          } catch (Exception e) {
            return false;
          }
        });
  }

  @Test
  @Order(1)
  void theConformanceSuitePassesWithRealTraffic() {
    String all = tweed.ok("lab", "conformance", "netpol");
    assertThat(all).contains("40 passed, 0 failed").doesNotContain("FAIL");
    if (families().size() == 2) {
      // In a dual-stack lab the suite runs again in IPv6 on the scenarios that differ by family
      // most (ipBlocks written in IPv6, named ports resolved per address, deny-all, a combined
      // selector): the whole suite is the longest test there is (`lab conformance netpol
      // --family 6` runs all 40).
      String out =
          tweed.ok(
              "lab",
              "conformance",
              "netpol",
              "--family",
              "6",
              "--match",
              "ipBlock|named|deny all|no policies|namespaceSelector AND|endPort range 80-81");
      assertThat(out).as("IPv6").contains("14 passed, 0 failed").doesNotContain("FAIL");
    }
  }

  @Test
  @Order(2)
  void reachabilityPrintsTheMatrixAsJson() {
    JsonNode m =
        Json.parse(
            tweed.ok(
                "lab",
                "reachability",
                "--namespaces",
                "x,y",
                "--port",
                "81",
                "--proto",
                "udp",
                "-o",
                "json"));
    assertThat(m.path("pods").size()).isEqualTo(6);
    assertThat(m.path("pods").get(0).asText()).isEqualTo("x/a");
    for (JsonNode row : m.path("matrix")) {
      assertThat(row.size()).isEqualTo(6);
      row.forEach(c -> assertThat(c.asInt()).isEqualTo(1));
    }
  }

  @Test
  @Order(3)
  void aPodForgingAnotherPodsAddressIsStopped() throws Exception {
    for (IpFamily f : families()) {
      String host = "/" + f.bits();
      String forged = ipOf("y/b", f);
      String target = ipOf("z/c", f);
      // The pod takes another pod's address as its own (as a pod with NET_ADMIN could) and sends
      // from it.
      String podNs = netnsOf("x/a").getFileName().toString();
      Tweed.ip(podNs, "addr", "add", forged + host, "dev", "eth0", "nodad");
      // Control: the same datagram from x/a's own address arrives.
      assertThat(sendAndReceive(ipOf("x/a", f), target)).as(f.apiName()).isTrue();
      try {
        assertThat(sendAndReceive(forged, target)).as(f.apiName()).isFalse();
      } finally {
        Tweed.ip(podNs, "addr", "del", forged + host, "dev", "eth0");
      }
    }
  }

  /** Sends from x/a with source {@code source} to {@code target}:9999; true if it arrived. */
  private boolean sendAndReceive(String source, String target) throws Exception {
    // The datagrams are sent only once the receiver's socket is bound: "not received" then means
    // the datapath stopped them, not that nobody was listening yet.
    CountDownLatch bound = new CountDownLatch(1);
    CompletableFuture<Boolean> received =
        CompletableFuture.supplyAsync(
            () -> {
              try {
                return NetworkNamespace.call(
                    netnsOf("z/c"),
                    () -> {
                      try (DatagramSocket s = new DatagramSocket(new InetSocketAddress(9999))) {
                        bound.countDown();
                        s.setSoTimeout(2000);
                        DatagramPacket p = new DatagramPacket(new byte[64], 64);
                        try {
                          s.receive(p);
                          return true;
                        } catch (SocketTimeoutException e) {
                          return false;
                        }
                      }
                    });
              } catch (Exception e) {
                throw new IllegalStateException(e);
              }
            });
    assertThat(bound.await(10, TimeUnit.SECONDS)).as("the receiver's socket bound").isTrue();
    NetworkNamespace.call(
        netnsOf("x/a"),
        () -> {
          try (DatagramSocket s = new DatagramSocket(new InetSocketAddress(source, 0))) {
            byte[] b = "hello".getBytes(StandardCharsets.UTF_8);
            for (int i = 0; i < 3; i++) {
              s.send(new DatagramPacket(b, b.length, new InetSocketAddress(target, 9999)));
            }
          }
          return null;
        });
    return received.get();
  }

  @Test
  @Order(4)
  void thePodsOwnNodeReachesItThroughDenyAll() throws Exception {
    apply(
        "policy.yaml",
        """
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {namespace: x, name: deny-all}
        spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
        """);
    awaitConnects(netnsOf("y/a"), ipOf("x/a"), 80, false);
    String node = pod("x/a").path("spec").path("nodeName").asText();
    assertThat(connects(NetworkNamespace.pathOf(tweed.nodeNs(node)), ipOf("x/a"), 80)).isTrue();
  }

  @Test
  @Order(5)
  void serviceTrafficIsFilteredAfterDnatByBackendPodAndPort() throws Exception {
    apply(
        "service.yaml",
        """
        apiVersion: v1
        kind: Service
        metadata: {namespace: x, name: web}
        spec:
          selector: {pod: a}
          ports:
          - {name: http, port: 8080, targetPort: 80}
          - {name: other, port: 8081, targetPort: 81}
        """);
    apply(
        "policy.yaml",
        """
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {namespace: x, name: a-from-y-on-80}
        spec:
          podSelector: {matchLabels: {pod: a}}
          ingress:
          - from: [{namespaceSelector: {matchLabels: {ns: y}}}]
            ports: [{port: 80}]
        """);
    String clusterIp = "";
    for (JsonNode s : Json.parse(tweed.ok("lab", "get", "services", "-o", "json")).path("items")) {
      if (s.path("metadata").path("name").asText().equals("web")) {
        clusterIp = s.path("spec").path("clusterIP").asText();
      }
    }
    awaitConnects(netnsOf("y/b"), clusterIp, 8080, true);
    awaitConnects(netnsOf("z/b"), clusterIp, 8080, false);
    // Port 8081 is DNATed to 81, which the policy does not allow.
    assertThat(connects(netnsOf("y/b"), clusterIp, 8081)).isFalse();
  }

  @Test
  @Order(6)
  void anInvalidPolicyIsRejectedAndChangesNothing() throws Exception {
    String node = pod("x/a").path("spec").path("nodeName").asText();
    List<String> save = List.of("ip", "netns", "exec", tweed.nodeNs(node), "iptables-save");
    String before =
        Command.run(save).replaceAll("(?m)^#.*\n", "").replaceAll("\\[\\d+:\\d+\\]", "");
    Path bad = scratch.resolve("bad.yaml");
    Files.writeString(
        bad,
        """
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {namespace: x, name: good}
        spec: {podSelector: {}}
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {namespace: x, name: bad}
        spec:
          podSelector: {}
          ingress: [{ports: [{port: 80, endPort: 70}]}]
        """);
    var r = tweed.run("lab", "apply", "-f", bad.toString());
    assertThat(r.exitCode()).isNotZero();
    assertThat(r.stderr())
        .contains("NetworkPolicy x/bad")
        .contains("spec.ingress[0].ports[0].endPort")
        .contains("nothing was applied");
    // Once every agent has programmed all its store holds, a policy applied would be in force.
    tweed.awaitPoliciesCaughtUp();
    assertThat(connects(netnsOf("y/a"), ipOf("x/a"), 80)).as("x/good was not applied").isTrue();
    assertThat(Command.run(save).replaceAll("(?m)^#.*\n", "").replaceAll("\\[\\d+:\\d+\\]", ""))
        .isEqualTo(before);
  }

  @Test
  @Order(7)
  void policyLivesInTheDataplaneTheLabRuns() throws Exception {
    apply(
        "policy.yaml",
        """
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {namespace: x, name: deny-all}
        spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
        """);
    awaitConnects(netnsOf("y/a"), ipOf("x/a"), 80, false);
    String node = pod("x/a").path("spec").path("nodeName").asText();
    String ns = tweed.nodeNs(node);
    String rules =
        Command.run(List.of("ip", "netns", "exec", ns, "iptables-save"))
            + Command.run(List.of("ip", "netns", "exec", ns, "ip6tables-save"))
            + Command.run(List.of("ip", "netns", "exec", ns, "nft", "list", "ruleset"));
    String programs = Command.run(List.of("ip", "netns", "exec", ns, "bpftool", "net", "show"));
    if (dataplane().equals("ebpf")) {
      assertThat(rules).doesNotContain("tweed-fw-").doesNotContain("tweed-tw-");
      assertThat(rules).doesNotContain("anti-spoofing");
      assertThat(programs)
          .contains("from_container")
          .contains("to_container")
          .contains("from_overlay")
          .contains("from_netdev");
    } else {
      assertThat(rules).contains("anti-spoofing");
      assertThat(programs).doesNotContain("from_container");
    }
  }

  @Test
  @Order(8)
  void anEstablishedFlowOutlivesAPolicyThatWouldRefuseItAnew() throws Exception {
    String target = ipOf("x/a");
    try (DatagramSocket flow =
        NetworkNamespace.call(netnsOf("y/a"), () -> new DatagramSocket(new InetSocketAddress(0)))) {
      flow.setSoTimeout(1500);
      assertThat(exchange(flow, target)).as("before any policy").isTrue();
      apply(
          "policy.yaml",
          """
          apiVersion: networking.k8s.io/v1
          kind: NetworkPolicy
          metadata: {namespace: x, name: deny-all}
          spec: {podSelector: {}, policyTypes: [Ingress]}
          """);
      awaitConnects(netnsOf("y/a"), target, 80, false);
      // The flow that was allowed goes on (both directions); a new one from another port does not.
      assertThat(exchange(flow, target)).as("the established flow").isTrue();
      try (DatagramSocket fresh =
          NetworkNamespace.call(
              netnsOf("y/a"), () -> new DatagramSocket(new InetSocketAddress(0)))) {
        fresh.setSoTimeout(1500);
        assertThat(exchange(fresh, target)).as("a new flow").isFalse();
      }
    }
  }

  /** One datagram to the probe server's UDP 80 and its answer; false if none came. */
  private static boolean exchange(DatagramSocket s, String target) throws Exception {
    byte[] b = "hello".getBytes(StandardCharsets.UTF_8);
    s.send(new DatagramPacket(b, b.length, new InetSocketAddress(target, 80)));
    DatagramPacket answer = new DatagramPacket(new byte[256], 256);
    try {
      s.receive(answer);
      return true;
    } catch (SocketTimeoutException e) {
      return false;
    }
  }
}
