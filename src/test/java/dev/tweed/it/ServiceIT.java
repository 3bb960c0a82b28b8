package dev.tweed.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.lab.LabLayout;
import dev.tweed.lab.ProbeClient;
import dev.tweed.lab.ProbeResult;
import dev.tweed.model.IpFamilies;
import dev.tweed.model.IpFamily;
import dev.tweed.model.Json;
import dev.tweed.sys.Command;
import dev.tweed.sys.NetworkNamespace;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/** Services in a 3-node lab, with real traffic: ClusterIP, NodePort, no endpoints, affinity. */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ServiceIT {
  /** Made once the instance is whole: its name depends on what a subclass overrides. */
  Tweed tweed;

  Path client;

  /** The proxy mode the lab runs; a subclass runs every test again in the other one. */
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

  /** A node's underlay address of a family (node-2: 172.31.0.12 or fd00:172:31::12). */
  static String nodeIp(String node, IpFamily f) {
    return f == IpFamily.IPV4 ? LabLayout.nodeIp(node) : LabLayout.nodeIp6(node);
  }

  /** The datapath under the proxy: the eBPF programs hand Service traffic to the stack. */
  String dataplane() {
    return "standard";
  }

  @BeforeAll
  void up() throws Exception {
    tweed =
        Tweed.newLab(
            dataplane().equals("ebpf") ? "svcb" : ipFamily().equals("ipv4") ? "svc" : "svc6");
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
        Tweed.HOME.resolve("examples/services.yaml").toString());
    client = NetworkNamespace.pathOf(tweed.prefix() + "pod-default-client");
  }

  @AfterAll
  void down() {
    tweed.ok("lab", "down");
    assertThat(tweed.namespaces()).isEmpty();
  }

  JsonNode service(String name) {
    for (JsonNode s : Json.parse(tweed.ok("lab", "get", "services", "-o", "json")).path("items")) {
      if (s.path("metadata").path("name").asText().equals(name)) {
        return s;
      }
    }
    throw new AssertionError("no service " + name);
  }

  void awaitConnect(String ip, int port) {
    awaitConnect(client, ip, port);
  }

  void awaitConnect(Path from, String ip, int port) {
    Tweed.await(
        ip + ":" + port + " answers",
        Duration.ofSeconds(10),
        () -> {
          try {
            return ProbeClient.probe(from, ip, port, "tcp", Duration.ofMillis(500)).connected();
          } catch (Exception e) {
            return false;
          }
        });
  }

  Set<String> answers(Path from, String ip, int port, int probes) throws Exception {
    Set<String> seen = new HashSet<>();
    for (int i = 0; i < probes; i++) {
      ProbeResult r = ProbeClient.probe(from, ip, port, "tcp", Duration.ofSeconds(2));
      assertThat(r.connected()).as("probe %d to %s:%d: %s", i, ip, port, r.reason()).isTrue();
      seen.add(r.answer());
    }
    return seen;
  }

  @Test
  void clusterIpSpreadsOverEveryBackendOnEveryNode() throws Exception {
    JsonNode spec = service("web").path("spec");
    assertThat(spec.path("clusterIP").asText()).startsWith("10.96.");
    assertThat(spec.path("clusterIPs")).as("one per family").hasSize(families().size());
    for (JsonNode n : spec.path("clusterIPs")) {
      String ip = n.asText();
      awaitConnect(ip, 80);
      assertThat(answers(client, ip, 80, 50))
          .as("through " + ip)
          .containsExactlyInAnyOrder("default/web-1", "default/web-2", "default/web-3");
    }
  }

  @Test
  void aBurstOfShortConnectionsThroughAClusterIpLosesNone() throws Exception {
    String ip = service("web").path("spec").path("clusterIP").asText();
    awaitConnect(ip, 80);
    ShortConnections.Burst b =
        ShortConnections.burst(client, ip, 80, 20_000, Duration.ofSeconds(3));
    System.out.printf(
        "burst through %s:80 (%s/%s): %s, %.0f connections/s%n",
        ip, dataplane(), proxyMode(), b, b.connections() * 1000.0 / b.elapsedMillis());
    assertThat(b.lost()).as("connections lost in %s", b).isZero();
  }

  /**
   * Applies pod {@code name} on node-2, without a server of its own (the test runs one in its
   * namespace), and a ClusterIP Service of the same name to its {@code port}; returns the YAML to
   * delete them with. The pod's namespace exists when this returns.
   */
  Path podWithService(String name, int port) throws Exception {
    Path yaml = Files.createTempFile(name, ".yaml");
    Files.writeString(
        yaml,
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: NAME, labels: {app: NAME}}
        spec: {nodeName: node-2, containers: [{name: r}]}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: NAME}
        spec:
          selector: {app: NAME}
          ports: [{port: PORT, targetPort: PORT}]
        """
            .replace("NAME", name)
            .replace("PORT", Integer.toString(port)));
    tweed.ok("lab", "apply", "-f", yaml.toString());
    Path ns = NetworkNamespace.pathOf(tweed.prefix() + "pod-default-" + name);
    Tweed.await("pod " + name, Duration.ofSeconds(10), () -> Files.exists(ns));
    return yaml;
  }

  @Test
  void aClientReusingAPortItsBackendHoldsInTimeWaitConnectsAgain() throws Exception {
    Path yaml = podWithService("reader", 9090);
    Path readerNs = NetworkNamespace.pathOf(tweed.prefix() + "pod-default-reader");
    String clientNs = tweed.prefix() + "pod-default-client";
    // Without timestamps only sequence numbers decide whether TIME_WAIT takes a new SYN.
    Command.run(
        List.of("ip", "netns", "exec", clientNs, "sysctl", "-qw", "net.ipv4.tcp_timestamps=0"));
    try (AutoCloseable server = ShortConnections.readingServer(readerNs, 9090, 16 << 20)) {
      String ip = service("reader").path("spec").path("clusterIP").asText();
      Tweed.await(
          ip + ":9090 accepts",
          Duration.ofSeconds(10),
          () -> ShortConnections.connects(client, ip, 9090));
      long retransmitsBefore = synRetransmits(clientNs);
      Optional<Duration> took =
          ShortConnections.sendThenReconnect(
              client, ip, 9090, 47_123, 16 << 20, Duration.ofSeconds(5));
      // The backend's TIME_WAIT refused the first SYN: that is the case under test.
      assertThat(synRetransmits(clientNs)).isGreaterThan(retransmitsBefore);
      assertThat(took).as("the second connection from the same port").isPresent();
      assertThat(took.get()).isLessThan(Duration.ofSeconds(2));
    } finally {
      Command.run(
          List.of("ip", "netns", "exec", clientNs, "sysctl", "-qw", "net.ipv4.tcp_timestamps=1"));
      tweed.ok("lab", "delete", "-f", yaml.toString());
    }
  }

  static long synRetransmits(String netns) {
    String out =
        Command.run(List.of("ip", "netns", "exec", netns, "nstat", "-asz", "TcpExtTCPSynRetrans"));
    for (String line : out.split("\n")) {
      if (line.startsWith("TcpExtTCPSynRetrans")) {
        return Long.parseLong(line.trim().split("\\s+")[1]);
      }
    }
    throw new AssertionError("no TcpExtTCPSynRetrans in nstat's output: " + out);
  }

  @Test
  void aServiceWithoutEndpointsRefusesAtOnce() throws Exception {
    String ip = service("nobody").path("spec").path("clusterIP").asText();
    ProbeResult r = ProbeClient.probe(client, ip, 80, "tcp", Duration.ofSeconds(3));
    assertThat(r.connected()).isFalse();
    assertThat(r.reason()).isEqualTo("refused");
    assertThat(r.millis()).isLessThan(1000);
  }

  /** A dual-stack lab's IPv6 Service connection is a flow like any other, its pods named. */
  @Test
  void anIpv6ServiceConnectionIsObservedWithItsPodsAndBackend() throws Exception {
    Assumptions.assumeTrue(families().contains(IpFamily.IPV6), "an IPv6 lab's");
    assumeStandardDatapath();
    String ip =
        StreamSupport.stream(service("web").path("spec").path("clusterIPs").spliterator(), false)
            .map(JsonNode::asText)
            .filter(a -> IpFamily.of(a) == IpFamily.IPV6)
            .findFirst()
            .orElseThrow();
    awaitConnect(ip, 80);
    ProbeResult r = ProbeClient.probe(client, ip, 80, "tcp", Duration.ofSeconds(3));
    assertThat(r.connected()).isTrue();
    String clientIp6 = LabPods.ip(podJson("client"), IpFamily.IPV6);
    Tweed.await(
        "the IPv6 flow reported",
        Duration.ofSeconds(10),
        () -> ipv6ServiceFlow(clientIp6).isPresent());
    JsonNode f = ipv6ServiceFlow(clientIp6).orElseThrow();
    assertThat(f.path("source").path("pod_name").asText()).isEqualTo("client");
    assertThat(f.path("destination").path("pod_name").asText()).startsWith("web-");
    assertThat(f.path("destination_service").path("name").asText()).isEqualTo("web");
    assertThat(f.path("backend").asText()).matches("\\[fd00:10:244:[0-9a-f:]+\\]:8080");
  }

  private Optional<JsonNode> ipv6ServiceFlow(String clientIp6) {
    String out = tweed.ok("lab", "observe", "-o", "json", "--to-service", "default/web");
    return out.lines()
        .filter(l -> !l.isBlank())
        .map(Json::parse)
        .filter(f -> f.path("IP").path("source").asText().equals(clientIp6))
        .reduce((a, b) -> b);
  }

  private JsonNode podJson(String name) {
    for (JsonNode p : Json.parse(tweed.ok("lab", "get", "pods", "-o", "json")).path("items")) {
      if (p.path("metadata").path("name").asText().equals(name)) {
        return p;
      }
    }
    throw new AssertionError("no pod " + name);
  }

  private void assumeStandardDatapath() {
    Assumptions.assumeTrue(dataplane().equals("standard"), "the standard datapath's flows");
  }

  @Test
  void nodePortAnswersFromOutsideTheClusterOnEveryNode() throws Exception {
    Path router = NetworkNamespace.pathOf(tweed.prefix() + "router");
    for (IpFamily f : families()) {
      for (String node : List.of("node-1", "node-2", "node-3")) {
        String nodeIp = nodeIp(node, f);
        ProbeResult r = ProbeClient.probe(router, nodeIp, 30080, "tcp", Duration.ofSeconds(3));
        assertThat(r.connected()).as(nodeIp + ": " + r.reason()).isTrue();
        assertThat(r.answer()).startsWith("default/web-");
      }
    }
  }

  @Test
  void nodesCarryKubeProxysChainsForTheService() {
    if (dataplane().equals("ebpf")) {
      assertNoServiceRulesButTheServiceInTheMaps();
      return;
    }
    boolean nft = proxyMode().equals("nftables");
    // kube-proxy's dual-stack layout: the same chains in each family's tables (an nftables table
    // per family, ip and ip6, or iptables' and ip6tables' nat tables).
    for (JsonNode n : service("web").path("spec").path("clusterIPs")) {
      String clusterIp = n.asText();
      IpFamily family = IpFamily.of(clusterIp);
      boolean v4 = family == IpFamily.IPV4;
      String threeEndpoints = nft ? "numgen random mod 3 vmap" : "--probability 0.33333333349";
      // The three endpoints reach node-2's rules within the agent's next passes.
      Tweed.await(
          clusterIp + " leads to three endpoints on node-2",
          Duration.ofSeconds(10),
          () -> node2ServiceRules(family).contains(threeEndpoints));
      String save = node2ServiceRules(family);
      if (nft) {
        assertThat(save)
            .contains("chain service-")
            .contains("default/web/tcp/http")
            .contains(clusterIp + " . tcp . 80 : goto service-");
        continue;
      }
      assertThat(save)
          .contains(
              "-A KUBE-SERVICES -d "
                  + clusterIp
                  + (v4 ? "/32" : "/128")
                  + " -p tcp -m comment --comment \"default/web:http cluster IP\"");
      assertThat(save)
          .contains(
              "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j"
                  + " KUBE-SERVICES");
      assertThat(save).contains("--probability 0.33333333349");
      if (!v4) {
        assertThat(save)
            .as("IPv6 DNAT targets are bracketed")
            .containsPattern("--to-destination \\[fd00:10:244:[0-9a-f:]+\\]:8080");
      }
    }
  }

  /** node-2's service rules of a family: its nftables table, or the nat table of ip(6)tables. */
  private String node2ServiceRules(IpFamily family) {
    boolean v4 = family == IpFamily.IPV4;
    List<String> argv = new ArrayList<>(List.of("ip", "netns", "exec", tweed.nodeNs("node-2")));
    argv.addAll(
        proxyMode().equals("nftables")
            ? List.of("nft", "list", "table", v4 ? "ip" : "ip6", "tweed-proxy")
            : List.of(v4 ? "iptables-save" : "ip6tables-save", "-t", "nat"));
    return Command.run(argv);
  }

  /** eBPF: the programs load-balance; neither iptables nor nft holds a service rule. */
  void assertNoServiceRulesButTheServiceInTheMaps() {
    String node = tweed.nodeNs("node-2");
    String save = Command.run(List.of("ip", "netns", "exec", node, "iptables-save"));
    assertThat(save).doesNotContain("KUBE-");
    String ruleset = Command.run(List.of("ip", "netns", "exec", node, "nft", "list", "ruleset"));
    assertThat(ruleset).doesNotContain("tweed-proxy").doesNotContain("KUBE-");
    String clusterIp = service("web").path("spec").path("clusterIP").asText();
    JsonNode rows = Json.parse(tweed.ok("lab", "bpf", "node-2", "services", "-o", "json"));
    JsonNode web = null;
    for (JsonNode r : rows) {
      if (r.path("frontend").asText().equals(clusterIp + ":80")) {
        web = r;
      }
    }
    assertThat(web).as("the web ClusterIP in node-2's service map").isNotNull();
    assertThat(web.path("service").asText()).isEqualTo("default/web:http");
    assertThat(web.path("backends").toString())
        .contains("(default/web-1)", "(default/web-2)", "(default/web-3)");
    String table = tweed.ok("lab", "bpf", "node-2", "services");
    assertThat(table).contains("172.31.0.12:30080").contains("NodePort");
    assertThat(tweed.ok("lab", "bpf", "node-2", "backends")).contains("default/web-1");
  }

  @Test
  @Order(Integer.MAX_VALUE) // deletes a backend: runs last
  void clientIpAffinityKeepsTheBackendAndEndpointChangesFollowPods() throws Exception {
    Path yaml = Files.createTempFile("aff", ".yaml");
    Files.writeString(
        yaml,
        """
        apiVersion: v1
        kind: Service
        metadata: {name: sticky}
        spec:
          selector: {app: web}
          sessionAffinity: ClientIP
          ports: [{port: 81, targetPort: 8080}]
        """);
    tweed.ok("lab", "apply", "-f", yaml.toString());
    String ip = service("sticky").path("spec").path("clusterIP").asText();
    awaitConnect(ip, 81);
    assertThat(answers(client, ip, 81, 15)).hasSize(1);

    Path web3 = Files.createTempFile("web3", ".yaml");
    Files.writeString(
        web3, "kind: Pod\nmetadata: {name: web-3}\nspec: {containers: [{name: web}]}\n");
    tweed.ok("lab", "delete", "-f", web3.toString());
    String web = service("web").path("spec").path("clusterIP").asText();
    Tweed.await(
        "web-3 removed from the service",
        Duration.ofSeconds(10),
        () -> {
          try {
            return !answers(client, web, 80, 20).contains("default/web-3");
          } catch (Exception e) {
            return false;
          }
        });
    assertThat(answers(client, web, 80, 30))
        .containsExactlyInAnyOrder("default/web-1", "default/web-2");
  }

  @Test
  void loadBalancerIpsReachBackendsAndLocalPolicyKeepsTheClientAddress() throws Exception {
    tweed.ok("lab", "apply", "-f", Tweed.HOME.resolve("examples/loadbalancer.yaml").toString());
    Path router = NetworkNamespace.pathOf(tweed.prefix() + "router");
    Tweed.await(
        "load balancer routes",
        Duration.ofSeconds(10),
        () ->
            Tweed.ip(tweed.prefix() + "router", "route", "show", "192.0.2.11")
                .contains("via 172.31.0.12"));
    // Local policy: only node-2, which hosts the endpoint, gets the traffic.
    assertThat(Tweed.ip(tweed.prefix() + "router", "route", "show", "192.0.2.11"))
        .doesNotContain("172.31.0.11", "172.31.0.13");
    assertThat(Tweed.ip(tweed.prefix() + "router", "route", "show", "192.0.2.10"))
        .contains("172.31.0.11", "172.31.0.12", "172.31.0.13");
    for (String lbIp : List.of("192.0.2.10", "192.0.2.11")) {
      awaitConnect(router, lbIp, 80);
      ProbeResult r = ProbeClient.probe(router, lbIp, 80, "tcp", Duration.ofSeconds(3));
      assertThat(r.connected()).as(lbIp + ": " + r.reason()).isTrue();
      assertThat(r.answer()).isEqualTo("default/lb-1");
    }
    ProbeResult local = ProbeClient.clientIp(router, "192.0.2.11", 80, Duration.ofSeconds(3));
    assertThat(local.answer())
        .as("Local policy preserves the client address")
        .isEqualTo("172.31.0.1");
    ProbeResult udp = ProbeClient.probe(router, "192.0.2.10", 80, "udp", Duration.ofSeconds(3));
    assertThat(udp.answer()).as("UDP through the load balancer").isEqualTo("default/lb-1");
    ProbeResult cluster = ProbeClient.clientIp(router, "192.0.2.10", 80, Duration.ofSeconds(3));
    assertThat(cluster.connected()).isTrue();
    assertThat(cluster.answer()).as("Cluster policy masquerades").isNotEqualTo("172.31.0.1");
    JsonNode svc = service("lb-local");
    assertThat(svc.path("spec").path("healthCheckNodePort").asInt()).isBetween(30000, 32767);
  }

  @Test
  void externalIpsReachTheBackendsFromOutside() throws Exception {
    Path yaml = Files.createTempFile("extip", ".yaml");
    Files.writeString(
        yaml,
        """
        apiVersion: v1
        kind: Service
        metadata: {name: ext}
        spec:
          selector: {app: web}
          externalIPs: [198.51.100.10]
          ports: [{port: 8088, targetPort: 8080}]
        """);
    tweed.ok("lab", "apply", "-f", yaml.toString());
    Path router = NetworkNamespace.pathOf(tweed.prefix() + "router");
    awaitConnect(router, "198.51.100.10", 8088);
    assertThat(answers(router, "198.51.100.10", 8088, 30))
        .containsExactlyInAnyOrder("default/web-1", "default/web-2", "default/web-3");
  }

  @Test
  void restartingAgentsUnderServiceTrafficLosesNoProbe() throws Exception {
    String web = service("web").path("spec").path("clusterIP").asText();
    Path router = NetworkNamespace.pathOf(tweed.prefix() + "router");
    List<ContinuousProbes.Path4> paths =
        List.of(
            new ContinuousProbes.Path4("client->web", client, web, 80, "tcp"),
            new ContinuousProbes.Path4("router->node-1:30080", router, "172.31.0.11", 30080, "tcp"),
            new ContinuousProbes.Path4(
                "router->node-2:30080", router, "172.31.0.12", 30080, "tcp"));
    String mapsBefore =
        dataplane().equals("ebpf")
            ? tweed.ok("lab", "bpf", "node-1", "services", "-o", "json")
            : "";
    var traffic = new ContinuousProbes(paths);
    tweed.ok("lab", "agent", "restart", "node-1", "--kill");
    tweed.ok("lab", "agent", "restart", "node-2");
    // Traffic goes on until both new agents are ready and have seen more probes through.
    tweed.awaitAgentsReady();
    traffic.awaitMoreSent(20);
    traffic.close();
    assertThat(traffic.sent()).as("probes sent during the restarts").isGreaterThan(40);
    assertThat(traffic.lost()).as("probes lost during agent restarts").isEmpty();
    if (dataplane().equals("ebpf")) {
      // The new agent kept the ids the old one gave: the same frontends, slots and backends.
      assertThat(tweed.ok("lab", "bpf", "node-1", "services", "-o", "json")).isEqualTo(mapsBefore);
    }
  }

  @Test
  void loadBalancerSourceRangesAdmitOnlyTheirSources() throws Exception {
    Path yaml = Files.createTempFile("ranges", ".yaml");
    Files.writeString(
        yaml,
        """
        apiVersion: v1
        kind: Service
        metadata: {name: lb-closed}
        spec:
          type: LoadBalancer
          selector: {app: web}
          loadBalancerSourceRanges: [10.0.0.0/8]
          ports: [{port: 80, targetPort: 8080}]
        status: {loadBalancer: {ingress: [{ip: 192.0.2.20}]}}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: lb-open}
        spec:
          type: LoadBalancer
          selector: {app: web}
          loadBalancerSourceRanges: [172.31.0.0/24]
          ports: [{port: 80, targetPort: 8080}]
        status: {loadBalancer: {ingress: [{ip: 192.0.2.21}]}}
        """);
    tweed.ok("lab", "apply", "-f", yaml.toString());
    Path router = NetworkNamespace.pathOf(tweed.prefix() + "router");
    awaitConnect(router, "192.0.2.21", 80);
    ProbeResult closed = ProbeClient.probe(router, "192.0.2.20", 80, "tcp", Duration.ofSeconds(2));
    assertThat(closed.connected()).isFalse();
    assertThat(closed.reason()).as("dropped by the firewall, not refused").isEqualTo("timed out");
  }

  @Test
  void aServiceWithoutSelectorUsesTheEndpointSlicesTheUserApplies() throws Exception {
    String web1 = null;
    for (JsonNode p : Json.parse(tweed.ok("lab", "get", "pods", "-o", "json")).path("items")) {
      if (p.path("metadata").path("name").asText().equals("web-1")) {
        web1 = p.path("status").path("podIP").asText();
      }
    }
    Path yaml = Files.createTempFile("manual", ".yaml");
    Files.writeString(
        yaml,
        """
        apiVersion: v1
        kind: Service
        metadata: {name: manual}
        spec: {ports: [{name: http, port: 8000}]}
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: manual-1, labels: {kubernetes.io/service-name: manual}}
        addressType: IPv4
        endpoints: [{addresses: [%s]}]
        ports: [{name: http, port: 8080, protocol: TCP}]
        """
            .formatted(web1));
    tweed.ok("lab", "apply", "-f", yaml.toString());
    String ip = service("manual").path("spec").path("clusterIP").asText();
    awaitConnect(ip, 8000);
    assertThat(answers(client, ip, 8000, 5)).containsExactly("default/web-1");
  }

  @Test
  void severalPortsOverTcpAndUdpReachTheirTargetPorts() throws Exception {
    Path yaml = Files.createTempFile("dns", ".yaml");
    Files.writeString(
        yaml,
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: dns-1, labels: {app: dns}}
        spec:
          nodeName: node-3
          containers:
          - name: c
            ports:
            - {name: dns-tcp, containerPort: 8053}
            - {name: dns-udp, containerPort: 5353, protocol: UDP}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: dns}
        spec:
          selector: {app: dns}
          ports:
          - {name: tcp, port: 53, targetPort: dns-tcp, protocol: TCP}
          - {name: udp, port: 53, targetPort: dns-udp, protocol: UDP}
        """);
    tweed.ok("lab", "apply", "-f", yaml.toString());
    String ip = service("dns").path("spec").path("clusterIP").asText();
    awaitConnect(ip, 53);
    assertThat(answers(client, ip, 53, 3)).containsExactly("default/dns-1");
    Tweed.await(
        "UDP " + ip + ":53 answers",
        Duration.ofSeconds(10),
        () -> {
          try {
            return ProbeClient.probe(client, ip, 53, "udp", Duration.ofMillis(500)).connected();
          } catch (Exception e) {
            return false;
          }
        });
    ProbeResult udp = ProbeClient.probe(client, ip, 53, "udp", Duration.ofSeconds(2));
    assertThat(udp.answer()).isEqualTo("default/dns-1");
  }

  @Test
  void aUdpBackendWithNothingListeningRefusesThroughTheService() throws Exception {
    String web1 = podIp("web-1");
    Path yaml = Files.createTempFile("deaf", ".yaml");
    Files.writeString(
        yaml,
        """
        apiVersion: v1
        kind: Service
        metadata: {name: deaf}
        spec: {ports: [{name: dns, port: 53, protocol: UDP}]}
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: deaf-1, labels: {kubernetes.io/service-name: deaf}}
        addressType: IPv4
        endpoints: [{addresses: [%s]}]
        ports: [{name: dns, port: 5399, protocol: UDP}]
        """
            .formatted(web1));
    tweed.ok("lab", "apply", "-f", yaml.toString());
    String ip = service("deaf").path("spec").path("clusterIP").asText();
    // The backend's port unreachable, translated back as its connection's replies are, reaches
    // the client's socket: refused at once, not a timeout.
    Tweed.await(
        "UDP to " + ip + ":53 refused",
        Duration.ofSeconds(10),
        () -> {
          try {
            return ProbeClient.probe(client, ip, 53, "udp", Duration.ofMillis(500))
                .reason()
                .equals("refused");
          } catch (Exception e) {
            return false;
          }
        });
    ProbeResult r = ProbeClient.probe(client, ip, 53, "udp", Duration.ofSeconds(3));
    assertThat(r.reason()).isEqualTo("refused");
    assertThat(r.millis()).isLessThan(1000);
  }

  @Test
  void endpointsThatAreNotReadyLeaveTheRotation() throws Exception {
    String web1 = podIp("web-1");
    String web2 = podIp("web-2");
    String slice =
        """
        apiVersion: v1
        kind: Service
        metadata: {name: readiness}
        spec: {ports: [{name: http, port: 8001}]}
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: readiness-1, labels: {kubernetes.io/service-name: readiness}}
        addressType: IPv4
        endpoints:
        - {addresses: [%s]}
        - {addresses: [%s], conditions: {ready: %s}}
        ports: [{name: http, port: 8080, protocol: TCP}]
        """;
    Path yaml = Files.createTempFile("ready", ".yaml");
    Files.writeString(yaml, slice.formatted(web1, web2, "true"));
    tweed.ok("lab", "apply", "-f", yaml.toString());
    String ip = service("readiness").path("spec").path("clusterIP").asText();
    awaitConnect(ip, 8001);
    Tweed.await(
        "both endpoints answer", Duration.ofSeconds(10), () -> answersOrNone(ip, 8001).size() == 2);
    Files.writeString(yaml, slice.formatted(web1, web2, "false"));
    tweed.ok("lab", "apply", "-f", yaml.toString());
    Tweed.await(
        "web-2 leaves the rotation",
        Duration.ofSeconds(10),
        () -> answersOrNone(ip, 8001).equals(Set.of("default/web-1")));
    assertThat(answers(client, ip, 8001, 30)).containsExactly("default/web-1");
  }

  @Test
  void aPodReachesItselfThroughItsService() throws Exception {
    Path yaml = Files.createTempFile("hairpin", ".yaml");
    Files.writeString(
        yaml,
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: mirror, labels: {app: mirror}}
        spec: {nodeName: node-2, containers: [{name: c, ports: [{containerPort: 8080}]}]}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: mirror}
        spec:
          selector: {app: mirror}
          ports: [{port: 80, targetPort: 8080}]
        """);
    tweed.ok("lab", "apply", "-f", yaml.toString());
    String ip = service("mirror").path("spec").path("clusterIP").asText();
    Path mirror = NetworkNamespace.pathOf(tweed.prefix() + "pod-default-mirror");
    awaitConnect(mirror, ip, 80);
    assertThat(answers(mirror, ip, 80, 5)).containsExactly("default/mirror");
  }

  /** Who answers 20 probes from the client, or nobody when one of them fails. */
  Set<String> answersOrNone(String ip, int port) {
    try {
      return answers(client, ip, port, 20);
    } catch (Exception | AssertionError e) {
      return Set.of();
    }
  }

  String podIp(String name) {
    return tweed.podIp(name);
  }

  @Test
  void internalTrafficPolicyLocalKeepsTrafficOnTheClientsNode() throws Exception {
    Path yaml = Files.createTempFile("itp", ".yaml");
    Files.writeString(
        yaml,
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: solo, labels: {app: solo}}
        spec: {nodeName: node-1, containers: [{name: c, ports: [{containerPort: 8080}]}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: loner}
        spec: {nodeName: node-3, containers: [{name: c}]}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: node-local}
        spec:
          selector: {app: solo}
          internalTrafficPolicy: Local
          ports: [{port: 82, targetPort: 8080}]
        """);
    tweed.ok("lab", "apply", "-f", yaml.toString());
    String ip = service("node-local").path("spec").path("clusterIP").asText();
    awaitConnect(ip, 82); // client runs on node-1, like solo
    assertThat(answers(client, ip, 82, 10)).containsExactly("default/solo");
    Path loner = NetworkNamespace.pathOf(tweed.prefix() + "pod-default-loner");
    ProbeResult r = ProbeClient.probe(loner, ip, 82, "tcp", Duration.ofSeconds(2));
    assertThat(r.connected()).as("node-3 has no local endpoint").isFalse();
    assertThat(r.reason())
        .as("dropped, as kube-proxy drops it, not refused")
        .isEqualTo("timed out");
  }

  @Test
  void invalidServicesAreRejectedWithTheField() throws Exception {
    Path yaml = Files.createTempFile("bad", ".yaml");
    Files.writeString(
        yaml,
        "kind: Service\nmetadata: {name: bad}\nspec: {type: NodePort, ports: [{port: 80, nodePort: 20000}]}\n");
    var r = tweed.run("lab", "apply", "-f", yaml.toString());
    assertThat(r.exitCode()).isEqualTo(1);
    assertThat(r.stderr())
        .contains(
            "Service default/bad: spec.ports[0].nodePort: 20000 is outside the node port range");
    Files.writeString(
        yaml,
        "kind: Service\nmetadata: {name: bad}\nspec: {clusterIP: 192.168.1.1, ports: [{port: 80}]}\n");
    assertThat(tweed.run("lab", "apply", "-f", yaml.toString()).stderr())
        .contains("spec.clusterIPs[0]: 192.168.1.1 is not in the service CIDR");
    // The IP family fields, refused as the API server refuses them.
    Files.writeString(
        yaml,
        "kind: Service\nmetadata: {name: bad}\nspec: {ipFamilies: [IPv4, IPv6, IPv4],"
            + " ports: [{port: 80}]}\n");
    assertThat(tweed.run("lab", "apply", "-f", yaml.toString()).stderr())
        .contains("spec.ipFamilies: may hold at most two families");
    Files.writeString(
        yaml,
        "kind: Service\nmetadata: {name: bad}\nspec: {ipFamilies: [IPv6], clusterIPs:"
            + " [10.96.0.200], ports: [{port: 80}]}\n");
    assertThat(tweed.run("lab", "apply", "-f", yaml.toString()).stderr())
        .contains("spec.clusterIPs[0]: expected an IPv6 address as spec.ipFamilies[0] says");
    if (families().size() == 1) {
      Files.writeString(
          yaml,
          "kind: Service\nmetadata: {name: bad}\nspec: {ipFamilyPolicy: RequireDualStack,"
              + " ports: [{port: 80}]}\n");
      assertThat(tweed.run("lab", "apply", "-f", yaml.toString()).stderr())
          .contains(
              "spec.ipFamilyPolicy: RequireDualStack: this cluster is not configured for"
                  + " dual-stack");
      Files.writeString(
          yaml,
          "kind: Service\nmetadata: {name: bad}\nspec: {ipFamilies: [IPv6], ports: [{port:"
              + " 80}]}\n");
      assertThat(tweed.run("lab", "apply", "-f", yaml.toString()).stderr())
          .contains("spec.ipFamilies[0]: IPv6 is not configured on this cluster");
    }
    Files.writeString(
        yaml,
        "kind: Service\nmetadata: {name: bad}\nspec: {type: NodePort, ports: [{port: 80, nodePort: 30080}]}\n");
    assertThat(tweed.run("lab", "apply", "-f", yaml.toString()).stderr())
        .contains("30080 is already allocated");
    assertThat(tweed.ok("lab", "get", "services")).doesNotContain("bad");
  }
}
