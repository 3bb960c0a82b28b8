package dev.tweed.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tweed.cni.AgentClient;
import dev.tweed.datastore.kubernetes.KubernetesKind;
import dev.tweed.datastore.kubernetes.MockApiServer;
import dev.tweed.lab.CniExec;
import dev.tweed.lab.Namespaces;
import dev.tweed.lab.ProbeClient;
import dev.tweed.lab.ProbeServer;
import dev.tweed.model.Json;
import dev.tweed.sys.Command;
import dev.tweed.sys.NamespaceTcpForwarder;
import dev.tweed.sys.NetworkNamespace;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The real agent, CNI plugin and kernel with {@code --datastore kubernetes}, against fabric8's mock
 * API server in CRUD mode (no real API server runs here). The mock listens on the host's loopback;
 * a forwarder gives the node's namespace a loopback port that reaches it, and closing that
 * forwarder is how the test takes the API server away from the agent. The cluster is dual-stack, so
 * that both families' fields come from the API as it writes them: the Node's two InternalIPs, the
 * Service's {@code clusterIPs}, an EndpointSlice per {@code addressType}.
 */
class KubernetesAgentMockApiServerIT {
  static final String PREFIX =
      "tw-k8s" + Integer.toString(ThreadLocalRandom.current().nextInt(1 << 20), 36) + "-";
  static final String NODE_NS = PREFIX + "node-1";

  /**
   * Pod-to-pod probes use another port than the Service's target: a client may pick the same source
   * port for the ClusterIP as it used earlier for the pod itself, and after DNAT that connection
   * would collide with the earlier one's conntrack entry (the kernel drops the SYN).
   */
  static final int DIRECT = 8081;

  static final Duration WAIT = Duration.ofSeconds(30);
  static MockApiServer api;
  static KubernetesClient k8s;
  static NamespaceTcpForwarder forwarder;
  static Path dir;
  static Process agent;
  static ObjectNode netconf;

  @BeforeAll
  static void up() throws Exception {
    api = new MockApiServer();
    k8s = api.client();
    dir = Files.createTempDirectory("tweed-k8s");
    Namespaces.add(NODE_NS);
    Namespaces.batch(
        NODE_NS,
        List.of(
            "link set lo up",
            "link add eth0 type veth peer name eth0-peer",
            "link set eth0-peer up",
            "addr add 192.168.77.11/24 dev eth0",
            "addr add fd00:77::11/64 dev eth0 nodad",
            "link set eth0 up",
            // Proxy ARP answers the pods' gateway (169.254.1.1) only for a routable address,
            // as on a real node with its default route.
            "route add default via 192.168.77.1 dev eth0",
            "route add ::/0 via fd00:77::1 dev eth0"));
    forwarder = openApi();
    Files.writeString(
        dir.resolve("kubeconfig"),
        """
        apiVersion: v1
        kind: Config
        clusters: [{name: mock, cluster: {server: "http://127.0.0.1:%d"}}]
        users: [{name: agent, user: {token: agent-token}}]
        contexts: [{name: mock, context: {cluster: mock, user: agent}}]
        current-context: mock
        """
            .formatted(api.port()));
    api.createNamespace("default");
    api.createNode("node-1", "192.168.77.11", "fd00:77::11");
    Path log = dir.resolve("agent.log");
    agent =
        new ProcessBuilder(
                "ip",
                "netns",
                "exec",
                NODE_NS,
                Tweed.HOME.resolve("tweed").toString(),
                "agent",
                "--datastore",
                "kubernetes",
                "--kubeconfig",
                dir.resolve("kubeconfig").toString(),
                "--node",
                "node-1",
                "--cluster-cidr",
                "10.244.0.0/16,fd00:10:244::/56",
                "--service-cidr",
                "10.96.0.0/16,fd00:10:96::/112",
                "--socket",
                dir.resolve("agent.sock").toString())
            .redirectErrorStream(true)
            .redirectOutput(log.toFile())
            .start();
    Path bin = dir.resolve("bin");
    Files.createDirectories(bin);
    Tweed.newLab("k8s").ok("cni-install", bin.toString());
    netconf = Json.object();
    netconf.put("cniVersion", "1.1.0").put("name", "tweed").put("type", "tweed-cni");
    netconf.put("agentSocket", dir.resolve("agent.sock").toString());
    ObjectNode ipam = netconf.putObject("ipam").put("type", "tweed-ipam");
    ipam.putArray("pools")
        .add(Json.object().put("cidr", "10.244.0.0/16").put("blockSize", 26))
        .add(Json.object().put("cidr", "fd00:10:244::/56").put("blockSize", 122));
    await("the agent to be ready", () -> health().path("ready").asBoolean());
  }

  /** A loopback port in the node's namespace that reaches the mock API server. */
  static NamespaceTcpForwarder openApi() {
    return NamespaceTcpForwarder.intoNamespace(
        NetworkNamespace.pathOf(NODE_NS),
        api.port(),
        new InetSocketAddress(InetAddress.getLoopbackAddress(), api.port()));
  }

  @AfterAll
  static void down() throws Exception {
    try {
      if (agent != null) {
        agent.destroy();
        agent.waitFor();
        System.out.println(Files.readString(dir.resolve("agent.log")));
      }
    } finally {
      if (forwarder != null) {
        forwarder.close();
      }
      for (String ns : Namespaces.list()) {
        if (ns.startsWith(PREFIX)) {
          Namespaces.delete(ns);
        }
      }
      api.close();
      try (var files = Files.walk(dir)) {
        for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
          Files.delete(p);
        }
      }
    }
  }

  /** The node's rules in both families, without their counters. */
  static String rules() {
    StringBuilder out = new StringBuilder();
    for (String save : List.of("iptables-save", "ip6tables-save")) {
      for (String line :
          Command.run(List.of("ip", "netns", "exec", NODE_NS, save)).lines().toList()) {
        if (!line.startsWith("#")) {
          out.append(line.replaceAll("\\[\\d+:\\d+\\]", "")).append('\n');
        }
      }
    }
    return out.toString();
  }

  static JsonNode health() {
    try {
      return Json.parse(AgentClient.health(dir.resolve("agent.sock")));
    } catch (IOException e) {
      return Json.object();
    }
  }

  /** A pod and its addresses, IPv4 then IPv6 (the cluster's order). */
  record Pod(String name, String netns, String containerId, List<String> ips) {
    String ip() {
      return ips.getFirst();
    }

    String ip6() {
      return ips.getLast();
    }
  }

  static CniExec.Outcome cni(String command, String name) {
    return CniExec.call(
        NODE_NS,
        dir.resolve("bin").toString(),
        command,
        "c-" + name,
        NetworkNamespace.pathOf(PREFIX + "pod-" + name).toString(),
        "eth0",
        "K8S_POD_NAMESPACE=default;K8S_POD_NAME=" + name,
        netconf);
  }

  /** What kubelet does: the Pod object, then the sandbox and a CNI ADD. */
  static Pod pod(String name) {
    api.applyPod(name, name, "node-1");
    String netns = PREFIX + "pod-" + name;
    if (!Namespaces.list().contains(netns)) {
      Namespaces.add(netns);
    }
    CniExec.Outcome out = cni("ADD", name);
    assertThat(out.ok()).as("CNI ADD %s: %s", name, out.describe()).isTrue();
    List<String> ips = new ArrayList<>();
    for (JsonNode ip : out.output().path("ips")) {
      String address = ip.path("address").asText();
      ips.add(address.substring(0, address.indexOf('/')));
    }
    assertThat(ips).as("an address per family").hasSize(2);
    return new Pod(name, netns, "c-" + name, ips);
  }

  static boolean reachesAll(Pod from, List<String> ips, int port) {
    return ips.stream().allMatch(ip -> reaches(from, ip, port));
  }

  static boolean reaches(Pod from, String ip, int port) {
    return probe(from, ip, port, Duration.ofMillis(500)).isEmpty();
  }

  /** Empty when {@code from} connected to ip:port within {@code timeout}, else why not. */
  static Optional<String> probe(Pod from, String ip, int port, Duration timeout) {
    try {
      var r = ProbeClient.probe(NetworkNamespace.pathOf(from.netns()), ip, port, "tcp", timeout);
      return r.connected() ? Optional.empty() : Optional.of(ip + ":" + port + " " + r.reason());
    } catch (Exception e) {
      return Optional.of(ip + ":" + port + " " + e);
    }
  }

  /** What the kernel holds, printed when a wait fails. */
  static void await(String what, BooleanSupplier cond) {
    try {
      Tweed.await(what, WAIT, cond);
    } catch (AssertionError e) {
      System.out.println("node routes:\n" + Tweed.ip(NODE_NS, "route"));
      System.out.println("node links:\n" + Tweed.ip(NODE_NS, "-br", "link"));
      System.out.println("pod-a:\n" + Tweed.ip(PREFIX + "pod-a", "-br", "addr"));
      System.out.println("pod-a routes:\n" + Tweed.ip(PREFIX + "pod-a", "route"));
      System.out.println(Command.run(List.of("ip", "netns", "exec", NODE_NS, "iptables-save")));
      System.out.println(Command.run(List.of("ip", "netns", "exec", NODE_NS, "ip6tables-save")));
      System.out.println("health: " + health());
      throw e;
    }
  }

  static List<GenericKubernetesResource> custom(String kind) {
    return k8s.genericKubernetesResources(KubernetesKind.require(kind).context()).list().getItems();
  }

  static Map<?, ?> specOf(GenericKubernetesResource r) {
    return (Map<?, ?>) r.getAdditionalProperties().get("spec");
  }

  @Test
  void podsServicesPoliciesAndAnApiOutageWithTheKubernetesDatastore() throws Exception {
    Pod a = pod("a");
    Pod b = pod("b");
    assertThat(a.ips()).doesNotContainAnyElementsOf(b.ips());
    // The CNI call's state is in the API as Tweed's custom resources: both families.
    assertThat(custom("WorkloadEndpoint"))
        .extracting(r -> String.valueOf(specOf(r).get("ips")))
        .containsExactlyInAnyOrder(
            "[" + a.ip() + ", " + a.ip6() + "]", "[" + b.ip() + ", " + b.ip6() + "]");
    assertThat(custom("IPAMBlock"))
        .as("a block per family")
        .hasSize(2)
        .allSatisfy(
            r ->
                assertThat(((Map<?, ?>) r.getAdditionalProperties().get("spec")).get("node"))
                    .isEqualTo("node-1"));

    try (var server =
        new ProbeServer(
            NetworkNamespace.pathOf(b.netns()),
            "b",
            List.of(new ProbeServer.Port(8080, "TCP"), new ProbeServer.Port(DIRECT, "TCP")))) {
      await("a reaches b in both families", () -> reachesAll(a, b.ips(), DIRECT));

      // A dual-stack Service and its EndpointSlice per family, written to the API, become each
      // family's proxy rules.
      api.createService("web", List.of("10.96.0.50", "fd00:10:96::50"), 80, 8080);
      api.createSlice("web-x1", "web", b.ip(), "node-1", 8080);
      api.createSlice("web-x2", "web", b.ip6(), "node-1", 8080);
      await(
          "a reaches both of the Service's clusterIPs",
          () -> reachesAll(a, List.of("10.96.0.50", "fd00:10:96::50"), 80));

      // A NetworkPolicy from the API isolates b in both families; deleting it opens b again.
      api.createIsolation("isolate-b", "b");
      await(
          "the policy to refuse a -> b in both families",
          () -> b.ips().stream().noneMatch(ip -> reaches(a, ip, DIRECT)));
      k8s.network().v1().networkPolicies().inNamespace("default").withName("isolate-b").delete();
      await("a to reach b again", () -> reachesAll(a, b.ips(), DIRECT));

      // The API server goes away: traffic goes on, the agent says it is not ready, and a new
      // pod fails with a clear error instead of hanging.
      String rulesBefore = rules();
      forwarder.close();
      await("the agent to notice", () -> !health().path("ready").asBoolean(true));
      assertThat(health().path("datastoreReachable").asBoolean()).isFalse();
      // Paced: at thousands of connections a second to one backend through the ClusterIP, the
      // client reuses source ports whose earlier connection the server still holds in TIME_WAIT,
      // and conntrack marks the odd SYN INVALID (the proxy drops INVALID, as kube-proxy does),
      // with or without an API server. That is a property of the probe, not of the outage.
      // What the outage must not do is take rules away: every connection is made (within 3 s, so
      // that one SYN the kernel sends again after its 1 s timeout is a slow answer, not a lost
      // connection: in one run of the full suite, on a loaded machine, one probe of some 700 had
      // no answer within 1 s and the rules had not changed) and the node's rules are the same after
      // as before. Answers slower
      // than 900 ms are printed, so a resent SYN shows.
      List<String> lost = new ArrayList<>();
      List<String> slow = new ArrayList<>();
      int sent = 0;
      for (long end = System.nanoTime() + 5_000_000_000L; System.nanoTime() < end; sent += 2) {
        for (String[] to :
            new String[][] {{b.ip(), String.valueOf(DIRECT)}, {"10.96.0.50", "80"}}) {
          var r =
              ProbeClient.probe(
                  NetworkNamespace.pathOf(a.netns()),
                  to[0],
                  Integer.parseInt(to[1]),
                  "tcp",
                  Duration.ofSeconds(3));
          String what = to[0] + ":" + to[1] + " after " + (int) r.millis() + " ms";
          if (!r.connected()) {
            lost.add(
                what
                    + ": "
                    + r.reason()
                    + (r.localPort() == 0 ? " connecting" : " connected from " + r.localPort()));
          } else if (r.millis() > 900) {
            slow.add(what);
          }
        }
        Thread.sleep(10);
      }
      System.out.printf(
          "API server away: %d of %d probes lost %s; answers slower than 900 ms: %s%n",
          lost.size(), sent, lost, slow);
      assertThat(lost).as("probes lost while the API server is away").isEmpty();
      assertThat(rules())
          .as("the node's rules while the API server is away")
          .isEqualTo(rulesBefore);
      Namespaces.add(PREFIX + "pod-c");
      long start = System.nanoTime();
      CniExec.Outcome refused = cni("ADD", "c");
      double seconds = (System.nanoTime() - start) / 1e9;
      assertThat(refused.ok()).isFalse();
      assertThat(refused.output().path("code").asInt()).as(refused.describe()).isEqualTo(11);
      assertThat(refused.describe()).containsIgnoringCase("datastore");
      assertThat(seconds).isLessThan(10);

      forwarder = openApi();
      await("the agent to be ready again", () -> health().path("ready").asBoolean());
      Pod c = pod("c");
      await("a reaches c", () -> reaches(c, b.ip(), DIRECT));
    }

    // DEL removes each pod's endpoint from the API.
    List<String> names = new ArrayList<>(List.of("a", "b", "c"));
    for (String name : names) {
      assertThat(cni("DEL", name).ok()).isTrue();
    }
    assertThat(custom("WorkloadEndpoint")).isEmpty();
  }
}
