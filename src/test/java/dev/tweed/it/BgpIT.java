package dev.tweed.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.cni.AgentClient;
import dev.tweed.lab.Lab;
import dev.tweed.lab.LabLayout;
import dev.tweed.lab.LabProcesses;
import dev.tweed.lab.LabState;
import dev.tweed.lab.ProbeClient;
import dev.tweed.lab.ProbeResult;
import dev.tweed.lab.service.LabService;
import dev.tweed.model.Ipv4;
import dev.tweed.model.Json;
import dev.tweed.sys.Command;
import dev.tweed.sys.NetworkNamespace;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * A lab routed by BGP through real BIRD daemons: pods reach each other unencapsulated over routes
 * BIRD installs, BIRD killed by hand comes back without a lost probe, and a stopped node's routes
 * and endpoints go, then come back when it starts.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class BgpIT {
  /** Made once the instance is whole: its name depends on what a subclass overrides. */
  Tweed tweed;

  final Map<String, JsonNode> pods = new TreeMap<>();

  /** The datapath the lab runs; a subclass runs the routing tests on the other one. */
  String dataplane() {
    return "standard";
  }

  /** For tests of BIRD's supervision, which no datapath changes: one mode runs them. */
  void onlyInTheStandardDataplane() {
    Assumptions.assumeTrue(dataplane().equals("standard"), "independent of the datapath");
  }

  @BeforeAll
  void up() {
    tweed = Tweed.newLab(dataplane().equals("ebpf") ? "bgpb" : "bgp");
    tweed.ok(
        "lab",
        "up",
        "--nodes",
        "3",
        "--routing",
        "bgp",
        "--dataplane",
        dataplane(),
        "-f",
        Tweed.HOME.resolve("examples/services.yaml").toString());
    for (JsonNode p : Json.parse(tweed.ok("lab", "get", "pods", "-o", "json")).path("items")) {
      pods.put(p.path("metadata").path("name").asText(), p);
    }
    Tweed.await(
        "every BGP session established",
        Duration.ofSeconds(30),
        () -> tweed.run("lab", "bgp", "status").exitCode() == 0);
  }

  @AfterAll
  void down() {
    tweed.ok("lab", "down");
    assertThat(tweed.namespaces()).isEmpty();
    assertThat(birdProcesses()).as("BIRD daemons of this lab left running").isEmpty();
  }

  private List<String> birdProcesses() {
    List<String> out = new ArrayList<>();
    for (String line : Command.run(List.of("ps", "-eo", "args")).split("\n")) {
      if (line.startsWith("bird ") && line.contains("/" + tweed.lab() + "/")) {
        out.add(line);
      }
    }
    return out;
  }

  private String ip(String pod) {
    return pods.get(pod).path("status").path("podIP").asText();
  }

  private String node(String pod) {
    return pods.get(pod).path("spec").path("nodeName").asText();
  }

  private ProbeResult probe(String from, String dst, int port, Duration timeout) throws Exception {
    return ProbeClient.probe(
        NetworkNamespace.pathOf(tweed.prefix() + "pod-default-" + from), dst, port, "tcp", timeout);
  }

  private String routes(String node) {
    return Tweed.ip(tweed.nodeNs(node), "route");
  }

  @Test
  @Order(1)
  void podsReachEachOtherOverBirdsRoutesWithoutEncapsulation() throws Exception {
    for (String from : pods.keySet()) {
      for (String to : pods.keySet()) {
        if (!to.startsWith("web") || from.equals(to)) {
          continue;
        }
        assertThat(probe(from, ip(to), 8080, Duration.ofSeconds(2)).connected())
            .as(from + " -> " + to)
            .isTrue();
      }
    }
    for (String n : List.of("node-1", "node-2", "node-3")) {
      assertThat(Tweed.ip(tweed.nodeNs(n), "-d", "link")).doesNotContain("vxlan");
      String r = routes(n);
      // Other nodes' blocks via their underlay address, installed by BIRD; own blocks blackholed.
      assertThat(r)
          .containsPattern("10\\.244\\.\\S+/26 via 172\\.31\\.0\\.1\\d dev eth0 proto bird");
      assertThat(r).containsPattern("blackhole 10\\.244\\.\\S+/26 proto bird");
    }
    assertThat(tweed.ok("lab", "bgp", "status")).contains("Established").doesNotContain("Active");
    // The web view's topology draws the same sessions: one from each side of every pair.
    var links = LabService.of(LabLayout.of(tweed.lab())).topology().links();
    assertThat(links).hasSize(6).allMatch(l -> l.kind().equals("bgp"));
    assertThat(links)
        .extracting(l -> l.from() + ">" + l.to() + " " + l.state())
        .contains("node-1>node-2 Established", "node-3>node-1 Established");
    if (dataplane().equals("ebpf")) {
      // The tracer models the kernel's own path (netfilter, routing); the eBPF programs' path,
      // which skips both, is not part of its model, so its check against the kernel is not
      // asked here.
      return;
    }

    // The trace agrees with the kernel: across nodes without VXLAN...
    JsonNode across =
        Json.parse(
            tweed.ok(
                "trace",
                "--from",
                "default/client",
                "--to",
                "default/web-3",
                "--port",
                "8080",
                "--verify",
                "-o",
                "json"));
    assertThat(across.path("verdict").asText()).isEqualTo("delivered");
    assertThat(across.path("verify").path("agree").asBoolean()).isTrue();
    assertThat(across.toString()).doesNotContain("vxlan-encap");
    // ...and an unallocated address of the client's own block ends in the node's blackhole.
    int client = Ipv4.parse(ip("client"));
    String unallocated = Ipv4.format((client & ~63) + 50);
    JsonNode hole =
        Json.parse(
            tweed.ok(
                "trace",
                "--from",
                "default/client",
                "--to",
                unallocated,
                "--port",
                "80",
                "--verify",
                "-o",
                "json"));
    assertThat(hole.path("verdict").asText()).isEqualTo("dropped");
    assertThat(hole.path("reason").asText()).contains("blackhole");
    assertThat(hole.path("verify").path("agree").asBoolean()).isTrue();
  }

  @Test
  @Order(2)
  void birdKilledByHandIsRestartedAndTrafficGoesOn() throws Exception {
    onlyInTheStandardDataplane();
    Path pidFile =
        LabLayout.of(tweed.lab()).agentSocket("node-2").getParent().resolve("node-2-bird.pid");
    long pid = Long.parseLong(Files.readString(pidFile).strip());
    int lost = 0;
    int sent = 0;
    ProcessHandle.of(pid).orElseThrow().destroyForcibly();
    long end = System.nanoTime() + Duration.ofSeconds(8).toNanos();
    while (System.nanoTime() < end) {
      sent++;
      if (!probe("client", ip("web-2"), 8080, Duration.ofMillis(500)).connected()) {
        lost++;
      }
      Thread.sleep(50);
    }
    System.out.printf("BIRD on node-2 killed: %d of %d probes lost%n", lost, sent);
    assertThat(lost).isZero();
    JsonNode health =
        Json.parse(AgentClient.health(LabLayout.of(tweed.lab()).agentSocket("node-2")));
    assertThat(health.path("bird").path("running").asBoolean()).isTrue();
    assertThat(health.path("bird").path("restarts").asLong()).isGreaterThanOrEqualTo(1);
    assertThat(Long.parseLong(Files.readString(pidFile).strip())).isNotEqualTo(pid);
  }

  @Test
  @Order(4)
  void changedTimersReloadBirdWithoutRestartingIt() throws Exception {
    onlyInTheStandardDataplane();
    Path dir = LabLayout.of(tweed.lab()).agentSocket("node-1").getParent();
    long pid = Long.parseLong(Files.readString(dir.resolve("node-1-bird.pid")).strip());
    Path yaml = Files.createTempFile("bgp", ".yaml");
    Files.writeString(
        yaml,
        """
        apiVersion: tweed.dev/v1
        kind: BGPConfiguration
        metadata: {name: default}
        spec: {holdTimeSeconds: 12, keepaliveTimeSeconds: 4}
        """);
    tweed.ok("lab", "apply", "-f", yaml.toString());
    Files.delete(yaml);
    Tweed.await(
        "node-1's BIRD configured with the new hold time",
        Duration.ofSeconds(20),
        () -> {
          try {
            return Files.readString(dir.resolve("node-1-bird.conf")).contains("hold time 12;")
                && Files.readString(LabLayout.of(tweed.lab()).logDir().resolve("node-1-agent.log"))
                    .contains("event=bird-reconfigured");
          } catch (IOException e) {
            return false;
          }
        });
    assertThat(Long.parseLong(Files.readString(dir.resolve("node-1-bird.pid")).strip()))
        .as("reloaded, not restarted")
        .isEqualTo(pid);
    Tweed.await(
        "sessions established again",
        Duration.ofSeconds(30),
        () -> tweed.run("lab", "bgp", "status").exitCode() == 0,
        () -> tweed.run("lab", "bgp", "status").stdout() + tweed.run("lab", "status").stdout());
  }

  @Test
  @Order(3)
  void aStoppedNodesRoutesAndEndpointsGoAndComeBack() throws Exception {
    Lab lab = new Lab(LabLayout.of(tweed.lab()), System.out);
    String web3 = ip("web-3");
    String web3Node = node("web-3");
    String underlay = "172.31.0.1" + web3Node.substring(web3Node.length() - 1);
    List<String> others =
        List.of("node-1", "node-2", "node-3").stream().filter(n -> !n.equals(web3Node)).toList();
    LabState state = LabState.read(lab.layout()).orElseThrow();
    long t0 = System.nanoTime();
    // The node fails (its link goes down first) while the test watches the others.
    Thread stopper = Thread.ofPlatform().start(() -> lab.stopNode(state, web3Node));
    long withdrawn = 0;
    long notReady = 0;
    long endpointsGone = 0;
    long proxiesDropped = 0;
    while (System.nanoTime() - t0 < Duration.ofSeconds(30).toNanos()
        && (withdrawn == 0 || notReady == 0 || endpointsGone == 0 || proxiesDropped == 0)) {
      long now = System.nanoTime() - t0;
      if (withdrawn == 0 && others.stream().noneMatch(n -> routes(n).contains("via " + underlay))) {
        withdrawn = now;
      }
      if (notReady == 0
          && tweed.ok("lab", "get", "nodes", "-o", "json").contains("NodeStatusUnknown")) {
        notReady = now;
      }
      if (endpointsGone == 0 && !readyEndpoints().contains(web3)) {
        // (addresses compared whole: 10.244.0.1 is a prefix of 10.244.0.129)
        endpointsGone = now;
      }
      if (proxiesDropped == 0
          && others.stream()
              .noneMatch(
                  n ->
                      mentions(
                          Command.run(
                              List.of(
                                  "ip",
                                  "netns",
                                  "exec",
                                  tweed.nodeNs(n),
                                  "iptables-save",
                                  "-t",
                                  "nat")),
                          web3))) {
        proxiesDropped = now;
      }
      Thread.sleep(20);
    }
    stopper.join();
    System.out.printf(
        "%s stopped: routes withdrawn on every other node after %d ms, node NotReady after %d ms,"
            + " endpoint not ready after %d ms, proxies no longer send to its pod after %d ms%n",
        web3Node,
        withdrawn / 1_000_000,
        notReady / 1_000_000,
        endpointsGone / 1_000_000,
        proxiesDropped / 1_000_000);
    assertThat(withdrawn)
        .as("routes withdrawn")
        .isPositive()
        .isLessThan(Duration.ofSeconds(10).toNanos());
    assertThat(notReady).as("node NotReady").isPositive();
    if (endpointsGone == 0) {
      // Say why: the lab controller's log and the slices as they are.
      Path log = LabLayout.of(tweed.lab()).logDir().resolve("controller.log");
      List<String> lines = Files.readAllLines(log);
      lines.subList(Math.max(0, lines.size() - 40), lines.size()).forEach(System.out::println);
      System.out.println(tweed.ok("lab", "get", "endpointslices", "-o", "json"));
      System.out.println(tweed.ok("lab", "get", "nodes", "-o", "json"));
    }
    assertThat(endpointsGone).as("endpoint not ready").isPositive();
    assertThat(proxiesDropped).as("proxies drop the endpoint").isPositive();
    // The Service still answers, from the remaining backends only.
    for (int i = 0; i < 10; i++) {
      ProbeResult r = probe("client", "10.96.0.10", 80, Duration.ofSeconds(1));
      assertThat(r.connected()).isTrue();
      assertThat(r.answer()).doesNotContain("web-3");
    }

    long t1 = System.nanoTime();
    lab.startNode(LabState.read(lab.layout()).orElseThrow(), web3Node);
    Tweed.await(
        "routes to and from " + web3Node,
        Duration.ofSeconds(30),
        () ->
            others.stream().allMatch(n -> routes(n).contains("via " + underlay))
                && routes(web3Node).contains("via 172.31.0.1"));
    long reconverged = System.nanoTime() - t1;
    Tweed.await("web-3 ready again", Duration.ofSeconds(30), () -> readyEndpoints().contains(web3));
    long ready = System.nanoTime() - t1;
    System.out.printf(
        "%s started: routes back everywhere after %d ms, endpoint ready after %d ms%n",
        web3Node, reconverged / 1_000_000, ready / 1_000_000);
    assertThat(probe("client", web3, 8080, Duration.ofSeconds(2)).connected()).isTrue();
  }

  /**
   * The agent as PID 1 of its own PID namespace, as in a container: it reaps the BIRD it starts (a
   * killed BIRD leaves no zombie and is started again), and on SIGTERM it stops BIRD before it
   * exits, leaving nothing behind.
   */
  @Test
  @Order(5)
  void theAgentAsPidOneReapsBirdAndStopsItOnSigterm() throws Exception {
    onlyInTheStandardDataplane();
    Lab lab = new Lab(LabLayout.of(tweed.lab()), System.out);
    LabLayout layout = lab.layout();
    LabState state = LabState.read(layout).orElseThrow();
    LabProcesses.stop(state.pids().get("agent/node-2"), "lab=" + tweed.lab(), false);
    Path birdPid = layout.agentSocket("node-2").getParent().resolve("node-2-bird.pid");
    List<String> argv =
        new ArrayList<>(
            List.of(
                "ip",
                "netns",
                "exec",
                tweed.nodeNs("node-2"),
                "unshare",
                "--pid",
                "--fork",
                "--mount-proc",
                ProcessHandle.current().info().command().orElseThrow(),
                "--enable-native-access=ALL-UNNAMED",
                "-XX:+UseSerialGC",
                "-jar",
                Tweed.HOME.resolve("target/tweed.jar").toString(),
                "agent",
                "--node",
                "node-2",
                "--store",
                layout.storeDir().toString(),
                "--socket",
                layout.agentSocket("node-2").toString(),
                "--routing",
                "bgp"));
    Process unshare =
        new ProcessBuilder(argv)
            .redirectErrorStream(true)
            .redirectOutput(layout.logDir().resolve("node-2-agent-pid1.log").toFile())
            .start();
    try {
      Tweed.await(
          "the PID-1 agent's BIRD",
          Duration.ofSeconds(60),
          () -> birdRunning(layout) && Files.exists(birdPid));
      assertThat(unshare.isAlive()).isTrue();
      ProcessHandle agent = unshare.toHandle().children().findFirst().orElseThrow();
      String status = Files.readString(Path.of("/proc", String.valueOf(agent.pid()), "status"));
      assertThat(status)
          .as("the agent is PID 1 in its namespace")
          .containsPattern("NSpid:\\s+\\d+\\s+1\\n");
      cniAddReachesAnAgentInItsOwnPidAndMountNamespaces();
      // The PID file holds BIRD's PID in the agent's namespace; from here, BIRD is the agent's
      // child.
      ProcessHandle firstBird = birdChild(agent);
      firstBird.destroyForcibly();
      Tweed.await(
          "BIRD started again",
          Duration.ofSeconds(20),
          () ->
              birdRunning(layout)
                  && agent.children().anyMatch(c -> c.pid() != firstBird.pid() && isBird(c)));
      assertThat(Files.exists(Path.of("/proc", String.valueOf(firstBird.pid()))))
          .as("the killed BIRD was reaped, not left a zombie")
          .isFalse();
      ProcessHandle secondBird = birdChild(agent);
      agent.destroy(); // SIGTERM
      assertThat(unshare.waitFor(20, TimeUnit.SECONDS)).isTrue();
      assertThat(secondBird.isAlive()).as("BIRD stopped with its agent").isFalse();
    } finally {
      unshare.toHandle().descendants().forEach(ProcessHandle::destroyForcibly);
      unshare.destroyForcibly();
      lab.startAgent(LabState.read(layout).orElseThrow().withoutPid("agent/node-2"), "node-2");
      lab.awaitAgentReady("node-2", System.nanoTime() + 60_000_000_000L);
    }
  }

  /**
   * A runtime on the host names a pod's namespace by a process of the host's PID namespace, which
   * the PID-1 agent (its own PID namespace and /proc, its own mount namespace) cannot resolve: the
   * shim's descriptor handoff must carry it, as on a node where the DaemonSet's agent runs in a
   * container.
   */
  private void cniAddReachesAnAgentInItsOwnPidAndMountNamespaces() throws Exception {
    Path bin = Files.createTempDirectory("tw-cni-pid1");
    try (ProcessNetns holder = ProcessNetns.start()) {
      tweed.ok("cni-install", bin.toString());
      String conf = tweed.ok("lab", "netconf", "node-2");
      Path netns = holder.path();
      Map<String, String> env = new HashMap<>();
      env.put("CNI_CONTAINERID", "c-pid1");
      env.put("CNI_NETNS", netns.toString());
      env.put("CNI_IFNAME", "eth0");
      env.put("CNI_PATH", bin.toString());
      List<String> shim =
          List.of(
              "ip", "netns", "exec", tweed.nodeNs("node-2"), bin.resolve("tweed-cni").toString());
      env.put("CNI_COMMAND", "ADD");
      Command.Result add = Command.exec(shim, conf, env);
      long deadline = System.nanoTime() + 30_000_000_000L;
      while (add.stdout().contains("\"code\":11") && System.nanoTime() < deadline) {
        Thread.sleep(200); // the restarted agent is not ready yet: the runtime retries
        add = Command.exec(shim, conf, env);
      }
      assertThat(add.exitCode()).as(add.stdout()).isZero();
      String address = Json.parse(add.stdout()).path("ips").get(0).path("address").asText();
      assertThat(Command.run(List.of("nsenter", "--net=" + netns, "ip", "-4", "-o", "addr")))
          .contains("inet " + address);
      env.put("CNI_COMMAND", "DEL");
      assertThat(Command.exec(shim, conf, env).exitCode()).isZero();
    } finally {
      try (var files = Files.list(bin)) {
        for (Path f : files.toList()) {
          Files.delete(f);
        }
      }
      Files.delete(bin);
    }
  }

  private static boolean isBird(ProcessHandle p) {
    return p.info().command().map(c -> c.endsWith("/bird")).orElse(false);
  }

  private static ProcessHandle birdChild(ProcessHandle agent) {
    return agent.children().filter(BgpIT::isBird).findFirst().orElseThrow();
  }

  private boolean birdRunning(LabLayout layout) {
    try {
      return Json.parse(AgentClient.health(layout.agentSocket("node-2")))
          .path("bird")
          .path("running")
          .asBoolean();
    } catch (Exception e) {
      return false;
    }
  }

  /** The addresses of ready endpoints, whole. */
  private Set<String> readyEndpoints() {
    Set<String> out = new TreeSet<>();
    for (JsonNode s :
        Json.parse(tweed.ok("lab", "get", "endpointslices", "-o", "json")).path("items")) {
      for (JsonNode ep : s.path("endpoints")) {
        if (ep.path("conditions").path("ready").asBoolean(true)) {
          ep.path("addresses").forEach(a -> out.add(a.asText()));
        }
      }
    }
    return out;
  }

  /** Does a rule dump name {@code ip} as an address (not as the prefix of a longer one)? */
  private static boolean mentions(String rules, String ip) {
    return Pattern.compile(Pattern.quote(ip) + "(?![0-9])").matcher(rules).find();
  }
}
