package dev.tweed.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.datastore.AccessDeniedException;
import dev.tweed.datastore.EtcdDatastore;
import dev.tweed.datastore.WatchBrokenException;
import dev.tweed.lab.CniExec;
import dev.tweed.lab.EtcdPki;
import dev.tweed.lab.LabLayout;
import dev.tweed.lab.LabState;
import dev.tweed.lab.LabStores;
import dev.tweed.lab.Namespaces;
import dev.tweed.lab.ProbeClient;
import dev.tweed.lab.ProbeServer;
import dev.tweed.model.Json;
import dev.tweed.sys.Command;
import dev.tweed.sys.NetworkNamespace;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * A 3-node lab whose state lives in a real 3-member etcd cluster: the slice's probes, a leader
 * killed while pods are created, every member stopped under traffic, a compaction under a lagging
 * agent.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class EtcdLabIT {
  static final Tweed tweed = Tweed.newLab("etcd");
  static final LabLayout layout = LabLayout.of(tweed.lab());
  static List<JsonNode> pods;

  @BeforeAll
  static void up() throws Exception {
    tweed.ok(
        "lab",
        "up",
        "--nodes",
        "3",
        "--datastore",
        "etcd",
        "--etcd-members",
        "3",
        "-f",
        LabPods.yaml("x", "p", 3, 2, true).toString());
    pods = pods();
  }

  @AfterAll
  static void down() {
    tweed.ok("lab", "down");
    assertThat(tweed.namespaces()).as("namespaces left behind").isEmpty();
    assertThat(
            ProcessHandle.allProcesses()
                .filter(
                    p ->
                        String.join(" ", p.info().arguments().orElse(new String[0]))
                            .contains(layout.dir().resolve("etcd").toString())))
        .as("etcd members left running")
        .isEmpty();
  }

  static List<JsonNode> pods() {
    List<JsonNode> out = new ArrayList<>();
    Json.parse(tweed.ok("lab", "get", "pods", "-o", "json")).path("items").forEach(out::add);
    return out;
  }

  static JsonNode etcdStatus() {
    return Json.parse(tweed.run("lab", "etcd", "status", "-o", "json").stdout());
  }

  static String leader() {
    for (JsonNode m : etcdStatus().path("members")) {
      if (m.path("leader").asBoolean()) {
        return m.path("name").asText();
      }
    }
    throw new AssertionError("no leader: " + etcdStatus());
  }

  static boolean allHealthy() {
    JsonNode members = etcdStatus().path("members");
    int healthy = 0;
    int leaders = 0;
    for (JsonNode m : members) {
      healthy += m.path("healthy").asBoolean() ? 1 : 0;
      leaders += m.path("leader").asBoolean() ? 1 : 0;
    }
    return members.size() == 3 && healthy == 3 && leaders == 1;
  }

  /** etcdctl (Debian's etcd-client) from the router, as the lab's controller user. */
  static String etcdctl(String... args) {
    Command.Result r = etcdctlAs(EtcdPki.CONTROLLER, args);
    if (r.exitCode() != 0) {
      throw new AssertionError("etcdctl " + String.join(" ", args) + ": " + r.stderr());
    }
    return r.stdout();
  }

  /** etcdctl as {@code user} (its certificate), or with no client certificate for null. */
  static Command.Result etcdctlAs(String user, String... args) {
    EtcdPki pki = EtcdPki.of(layout);
    List<String> argv =
        new ArrayList<>(
            List.of(
                "ip",
                "netns",
                "exec",
                layout.routerNs(),
                "etcdctl",
                "--dial-timeout",
                "2s",
                "--command-timeout",
                "4s",
                "--endpoints",
                String.join(
                    ",",
                    "https://" + LabLayout.etcdIp(1) + ":2379",
                    "https://" + LabLayout.etcdIp(2) + ":2379"),
                "--cacert",
                pki.ca().toString()));
    if (user != null) {
      argv.addAll(List.of("--cert", pki.cert(user).toString(), "--key", pki.key(user).toString()));
    }
    argv.addAll(List.of(args));
    return Command.exec(argv, "", Map.of("ETCDCTL_API", "3"));
  }

  /**
   * etcd runs with TLS for clients and peers and client-certificate authentication, and its roles:
   * a client without a certificate gets nothing, and an agent's user reads everything but cannot
   * write a Service, through etcdctl or through Tweed's own client.
   */
  @Test
  @Order(2)
  void etcdRefusesClientsWithoutACertificateAndAgentsWritingAService() throws Exception {
    assertThat(etcdctl("get", "--prefix", "--keys-only", "/tweed/Pod/")).contains("/tweed/Pod/x/");

    Command.Result anonymous = etcdctlAs(null, "get", "--prefix", "--keys-only", "/tweed/");
    assertThat(anonymous.exitCode()).isNotZero();
    assertThat(anonymous.stdout()).doesNotContain("/tweed/");
    assertThat(Files.readString(layout.logDir().resolve("etcd-1.log")))
        .as("the member says why")
        .contains("client didn't provide a certificate");

    Command.Result forged = etcdctlAs(EtcdPki.NODE, "put", "/tweed/Service/x/forged", "{}");
    assertThat(forged.exitCode()).isNotZero();
    assertThat(forged.stderr()).contains("permission denied");
    assertThat(etcdctlAs(EtcdPki.NODE, "get", "--prefix", "--keys-only", "/tweed/Pod/").stdout())
        .contains("/tweed/Pod/x/");

    LabState state = LabState.read(layout).orElseThrow();
    try (EtcdDatastore node = LabStores.etcdAs(layout, state, EtcdPki.NODE)) {
      assertThat(node.list("Pod/").entries()).isNotEmpty();
      assertThatThrownBy(() -> node.put("Service/x/forged", Json.parse("{}")))
          .isInstanceOf(AccessDeniedException.class)
          .hasMessageContaining("put Service/x/forged");
    }
    assertThat(etcdctl("get", "--prefix", "--keys-only", "/tweed/Service/"))
        .doesNotContain("forged");
  }

  @Test
  @Order(1)
  void everyPodReachesEveryOtherPodWithTheStateInEtcd() throws Exception {
    assertThat(allHealthy()).as(etcdStatus().toString()).isTrue();
    assertThat(etcdctl("get", "--prefix", "--keys-only", "/tweed/"))
        .contains("/tweed/Pod/x/p11", "/tweed/Node/node-3", "/tweed/IPAMBlock/")
        .contains("/tweed/WorkloadEndpoint/node-2.");
    assertThat(pods).hasSize(6);
    assertThat(LabPods.unreachablePairs(pods)).as("of 60 probes").isEmpty();
  }

  /** Services and NetworkPolicy from the same etcd: the lab's controllers and agents agree. */
  @Test
  @Order(2)
  void aServiceAndANetworkPolicyWorkWithTheStateInEtcd() throws Exception {
    Path yaml = Files.createTempFile("svc", ".yaml");
    Files.writeString(
        yaml,
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: web, namespace: x, labels: {app: web}}
        spec: {nodeName: node-2, containers: [{name: c, ports: [{containerPort: 8080}]}]}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: web, namespace: x}
        spec:
          selector: {app: web}
          ports: [{port: 80, targetPort: 8080}]
        """);
    tweed.ok("lab", "apply", "-f", yaml.toString());
    String clusterIp = "";
    for (JsonNode svc :
        Json.parse(tweed.ok("lab", "get", "services", "-o", "json")).path("items")) {
      if (svc.path("metadata").path("name").asText().equals("web")) {
        clusterIp = svc.path("spec").path("clusterIP").asText();
      }
    }
    assertThat(etcdctl("get", "--prefix", "--keys-only", "/tweed/EndpointSlice/x/"))
        .contains("/tweed/EndpointSlice/x/web");
    String ip = clusterIp;
    Tweed.await(
        "x/p11 to reach the Service",
        Duration.ofSeconds(30),
        () -> tweed.run("lab", "probe", "--from", "x/p11", "--to", ip).exitCode() == 0);
    assertThat(tweed.ok("lab", "probe", "--from", "x/p31", "--to", ip)).contains("x/web");

    Path policy = Files.createTempFile("pol", ".yaml");
    Files.writeString(
        policy,
        """
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: isolate-web, namespace: x}
        spec: {podSelector: {matchLabels: {app: web}}, policyTypes: [Ingress]}
        """);
    tweed.ok("lab", "apply", "-f", policy.toString());
    Tweed.await(
        "the policy to refuse x/p11 -> the Service",
        Duration.ofSeconds(30),
        () -> tweed.run("lab", "probe", "--from", "x/p11", "--to", ip).exitCode() == 1);
    tweed.ok("lab", "delete", "-f", policy.toString());
    Tweed.await(
        "x/p11 to reach the Service again",
        Duration.ofSeconds(30),
        () -> tweed.run("lab", "probe", "--from", "x/p11", "--to", ip).exitCode() == 0);
    Files.delete(yaml);
    Files.delete(policy);
  }

  @Test
  @Order(3)
  void killingTheLeaderWhilePodsAreCreatedGivesEveryPodItsOwnAddress() throws Exception {
    String leader = leader();
    Path yaml = LabPods.yaml("x", "q", 3, 3, false);
    AtomicReference<Command.Result> applied = new AtomicReference<>();
    Thread apply =
        Thread.ofPlatform()
            .start(() -> applied.set(tweed.run("lab", "apply", "-f", yaml.toString())));
    // The apply has started writing (its pods are created one by one over seconds) when the
    // leader dies; the assertion is that it completes either way, so the exact moment is free.
    Thread.sleep(300);
    tweed.ok("lab", "etcd", "stop", leader, "--kill");
    apply.join();
    assertThat(applied.get().exitCode())
        .as("apply: %s %s", applied.get().stdout(), applied.get().stderr())
        .isZero();
    List<JsonNode> all = pods().stream().filter(p -> !LabPods.name(p).equals("x/web")).toList();
    assertThat(all).hasSize(15);
    Set<String> ips = new HashSet<>();
    List<JsonNode> created = new ArrayList<>();
    for (JsonNode p : all) {
      assertThat(p.path("status").path("phase").asText()).as(LabPods.name(p)).isEqualTo("Running");
      assertThat(ips.add(LabPods.ip(p))).as("address of %s is unique", LabPods.name(p)).isTrue();
      if (LabPods.name(p).startsWith("x/q")) {
        created.add(p);
      }
    }
    List<JsonNode> mesh = new ArrayList<>(created);
    mesh.add(pods.get(0));
    assertThat(LabPods.unreachablePairs(mesh)).isEmpty();
    assertThat(etcdStatus().path("members").toString()).contains("\"healthy\":false");
    tweed.ok("lab", "etcd", "start", leader);
    Tweed.await("etcd healthy again", Duration.ofSeconds(60), EtcdLabIT::allHealthy);
  }

  @Test
  @Order(4)
  void losingEveryMemberKeepsTrafficAndNewPodsFailClearlyUntilItReturns() throws Exception {
    JsonNode a = pod("x/p11");
    JsonNode b = pod("x/p21");
    JsonNode c = pod("x/p31");
    List<ContinuousProbes.Path4> paths = new ArrayList<>();
    for (JsonNode[] pair : new JsonNode[][] {{a, b}, {b, c}, {c, a}}) {
      for (String proto : List.of("tcp", "udp")) {
        paths.add(
            new ContinuousProbes.Path4(
                LabPods.name(pair[0]) + "->" + LabPods.name(pair[1]),
                LabPods.netns(pair[0]),
                LabPods.ip(pair[1]),
                80,
                proto));
      }
    }
    JsonNode netconf = Json.parse(tweed.ok("lab", "netconf", "node-2"));
    String sandbox = tweed.prefix() + "sb-outage";
    Namespaces.add(sandbox);
    String bin = layout.cniBinDir().toString();
    String sandboxPath = NetworkNamespace.pathOf(sandbox).toString();
    try (var traffic = new ContinuousProbes(paths)) {
      for (int i = 1; i <= 3; i++) {
        tweed.ok("lab", "etcd", "stop", LabLayout.etcdMemberName(i));
      }
      Tweed.await(
          "every agent reports the datastore unreachable",
          Duration.ofSeconds(30),
          () -> {
            for (JsonNode n : Json.parse(tweed.run("lab", "status", "-o", "json").stdout())) {
              if (n.path("ready").asBoolean()
                  || !n.path("health")
                      .path("lastError")
                      .asText()
                      .contains("datastore unreachable")) {
                return false;
              }
            }
            return true;
          });
      Instant t0 = Instant.now();
      CniExec.Outcome refused =
          CniExec.call(
              tweed.nodeNs("node-2"), bin, "ADD", "c-outage", sandboxPath, "eth0", "", netconf);
      Duration took = Duration.between(t0, Instant.now());
      assertThat(refused.ok()).as("ADD during the outage").isFalse();
      assertThat(refused.output().path("code").asInt()).as(refused.describe()).isEqualTo(11);
      assertThat(refused.output().path("msg").asText()).contains("datastore unreachable");
      assertThat(took).as("the ADD answered instead of hanging").isLessThan(Duration.ofSeconds(10));
      // The outage lasts a few seconds more, so that agents meet it too; nothing is asserted of it.
      Thread.sleep(3000);
      for (int i = 1; i <= 3; i++) {
        tweed.ok("lab", "etcd", "start", LabLayout.etcdMemberName(i));
      }
      // The runtime retries the sandbox, as kubelet does after "try again later".
      CniExec.Outcome added = refused;
      long deadline = System.nanoTime() + 60_000_000_000L;
      while (!added.ok() && System.nanoTime() < deadline) {
        Thread.sleep(1000);
        added =
            CniExec.call(
                tweed.nodeNs("node-2"), bin, "ADD", "c-outage", sandboxPath, "eth0", "", netconf);
      }
      assertThat(added.ok()).as(added.describe()).isTrue();
      String cidr = added.output().path("ips").get(0).path("address").asText();
      String ip = cidr.substring(0, cidr.indexOf('/'));
      assertThat(pods().stream().map(LabPods::ip)).doesNotContain(ip);
      try (var server =
          new ProbeServer(
              NetworkNamespace.pathOf(sandbox),
              "runtime/outage",
              List.of(new ProbeServer.Port(7000, "TCP")))) {
        var probe = ProbeClient.probe(LabPods.netns(a), ip, 7000, "tcp", Duration.ofSeconds(3));
        assertThat(probe.connected()).as(probe.reason()).isTrue();
        assertThat(probe.answer()).isEqualTo("runtime/outage");
      }
      traffic.close();
      System.out.printf(
          "etcd outage: ADD refused (code 11) after %d ms; %d probes sent, %d lost%n",
          took.toMillis(), traffic.sent(), traffic.lost().size());
      assertThat(traffic.sent()).as("probes sent during the outage").isGreaterThan(100);
      assertThat(traffic.lost()).as("probes lost while etcd was down").isEmpty();
      CniExec.call(
          tweed.nodeNs("node-2"), bin, "DEL", "c-outage", sandboxPath, "eth0", "", netconf);
    } finally {
      Namespaces.delete(sandbox);
    }
    Tweed.await("etcd healthy again", Duration.ofSeconds(60), EtcdLabIT::allHealthy);
  }

  @Test
  @Order(5)
  void aCompactionBelowAnAgentsWatchRevisionIsFollowedByAResync() throws Exception {
    String node1 = tweed.nodeNs("node-1");
    Path agentLog = layout.logDir().resolve("node-1-agent.log");
    long logBefore = Files.size(agentLog);
    // node-1's agent loses etcd (its connections reset) while the cluster moves on.
    nft(node1, "add table ip tw-etcd-block");
    nft(node1, "add chain ip tw-etcd-block out { type filter hook output priority 0 ; }");
    nft(node1, "add rule ip tw-etcd-block out tcp dport 2379 reject with tcp reset");
    try {
      Tweed.await(
          "node-1 sees etcd unreachable",
          Duration.ofSeconds(30),
          () -> !health("node-1").path("health").path("datastoreReachable").asBoolean(true));
      apply(service("compacted-a", "10.96.100.10"));
      try (var store = (EtcdDatastore) LabStores.open(layout)) {
        long rev = store.currentRevision();
        store.compact(rev);
        // A watch that starts below the compacted revision is refused as compacted.
        AtomicReference<WatchBrokenException> broken = new AtomicReference<>();
        try (var w = store.watch("Service/", rev - 3, events -> {}, broken::set)) {
          Tweed.await(
              "compacted watch refused", Duration.ofSeconds(10), () -> broken.get() != null);
        }
        assertThat(broken.get().compacted()).as(broken.get().getMessage()).isTrue();
      }
    } finally {
      nft(node1, "delete table ip tw-etcd-block");
    }
    Tweed.await(
        "node-1 programs the Service written while it was cut off",
        Duration.ofSeconds(60),
        () -> iptablesSave(node1).contains("10.96.100.10/32"));
    String log = Files.readString(agentLog).substring((int) logBefore);
    assertThat(log)
        .contains("event=datastore-unreachable")
        .containsPattern("event=synced reason=(compacted|watch-ended)");
    apply(service("compacted-b", "10.96.100.11"));
    Tweed.await(
        "later changes still arrive",
        Duration.ofSeconds(20),
        () -> iptablesSave(node1).contains("10.96.100.11/32"));
  }

  static JsonNode pod(String name) {
    return pods.stream().filter(p -> LabPods.name(p).equals(name)).findFirst().orElseThrow();
  }

  static JsonNode health(String node) {
    for (JsonNode n : Json.parse(tweed.run("lab", "status", "-o", "json").stdout())) {
      if (n.path("node").asText().equals(node)) {
        return n;
      }
    }
    throw new AssertionError("no status for " + node);
  }

  static String service(String name, String clusterIp) {
    return "apiVersion: v1\nkind: Service\nmetadata: {name: "
        + name
        + ", namespace: x}\nspec:\n  clusterIP: "
        + clusterIp
        + "\n  selector: {app: none}\n  ports: [{port: 80, targetPort: 80}]\n";
  }

  static void apply(String yaml) throws Exception {
    Path f = Files.createTempFile("svc", ".yaml");
    Files.writeString(f, yaml);
    tweed.ok("lab", "apply", "-f", f.toString());
  }

  static void nft(String ns, String rule) {
    List<String> argv = new ArrayList<>(List.of("ip", "netns", "exec", ns, "nft"));
    argv.addAll(List.of(rule.split(" ")));
    Command.run(argv);
  }

  /** The whole ruleset: a Service without endpoints is a REJECT in the filter table. */
  static String iptablesSave(String ns) {
    return Command.run(List.of("ip", "netns", "exec", ns, "iptables-save"));
  }
}
