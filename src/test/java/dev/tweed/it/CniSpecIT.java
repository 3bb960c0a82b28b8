package dev.tweed.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tweed.cni.CniVersions;
import dev.tweed.lab.Namespaces;
import dev.tweed.lab.ProbeClient;
import dev.tweed.lab.ProbeServer;
import dev.tweed.model.Json;
import dev.tweed.sys.Command;
import dev.tweed.sys.NetworkNamespace;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The CNI 1.1 contract, exercised as a container runtime does: exec {@code tweed-cni} (installed by
 * {@code tweed cni-install}) in the node's namespace with CNI_* variables and the lab's network
 * configuration on stdin.
 */
class CniSpecIT {
  static final Tweed tweed = Tweed.newLab("cni");
  static Path bin;
  static ObjectNode netconf;
  static int sandboxes;

  @BeforeAll
  static void up() throws Exception {
    tweed.ok("lab", "up", "--nodes", "2");
    bin = Files.createTempDirectory("cnibin");
    assertThat(tweed.ok("cni-install", bin.toString())).contains("tweed-cni");
    netconf = (ObjectNode) Json.parse(tweed.ok("lab", "netconf", "node-1"));
    assertThat(netconf.path("type").asText()).isEqualTo("tweed-cni");
  }

  @AfterAll
  static void down() throws Exception {
    tweed.ok("lab", "down");
    assertThat(tweed.namespaces()).isEmpty();
    try (var s = Files.list(bin)) {
      for (Path p : s.toList()) {
        Files.delete(p);
      }
    }
    Files.delete(bin);
  }

  /** A fresh sandbox namespace, named into the lab so that lab down removes it too. */
  static String sandbox() {
    String name = tweed.prefix() + "sb" + (++sandboxes);
    Namespaces.add(name);
    return name;
  }

  record Out(int code, JsonNode json, String raw) {}

  static Out cni(String command, String containerId, String netns, String ifname, JsonNode conf) {
    Map<String, String> env = new HashMap<>();
    env.put("CNI_COMMAND", command);
    if (containerId != null) {
      env.put("CNI_CONTAINERID", containerId);
    }
    if (netns != null) {
      env.put("CNI_NETNS", NetworkNamespace.pathOf(netns).toString());
    }
    if (ifname != null) {
      env.put("CNI_IFNAME", ifname);
    }
    env.put("CNI_PATH", bin.toString());
    return cniRaw(env, Json.write(conf));
  }

  static Out cniRaw(Map<String, String> env, String stdin) {
    Command.Result r =
        Command.exec(
            List.of(
                "ip", "netns", "exec", tweed.nodeNs("node-1"), bin.resolve("tweed-cni").toString()),
            stdin.getBytes(StandardCharsets.UTF_8),
            env,
            60);
    JsonNode j = r.stdout().isBlank() ? Json.object() : Json.parse(r.stdout());
    return new Out(r.exitCode(), j, r.stdout());
  }

  static String hostLinks() {
    return Tweed.ip(tweed.nodeNs("node-1"), "-o", "link", "show");
  }

  /** Addresses allocated on node-1, the node these tests call the plugin on. */
  static int allocations() {
    return tweed.allocationsOn("node-1");
  }

  @Test
  void versionListsTheSupportedSpecVersions() {
    Out o = cniRaw(Map.of("CNI_COMMAND", "VERSION"), "");
    assertThat(o.code()).isZero();
    assertThat(o.json().path("supportedVersions").toString())
        .isEqualTo("[\"0.3.0\",\"0.3.1\",\"0.4.0\",\"1.0.0\",\"1.1.0\"]");
  }

  @Test
  void addGivesAWorkingRoutedPodAndDelRemovesItTwice() throws Exception {
    String ns = sandbox();
    Out add = cni("ADD", "c-add-1", ns, "eth0", netconf);
    assertThat(add.code()).as(add.raw()).isZero();
    assertThat(add.json().path("cniVersion").asText()).isEqualTo(CniVersions.CONFIGURED);
    String cidr = add.json().path("ips").get(0).path("address").asText();
    assertThat(cidr).matches("10\\.244\\.\\d+\\.\\d+/32");
    assertThat(add.json().path("ips").get(0).path("gateway").asText()).isEqualTo("169.254.1.1");
    assertThat(add.json().path("interfaces").get(1).path("sandbox").asText())
        .isEqualTo(NetworkNamespace.pathOf(ns).toString());
    String hostIf = add.json().path("interfaces").get(0).path("name").asText();
    String ip = cidr.substring(0, cidr.indexOf('/'));
    assertThat(
            Command.run(
                    List.of(
                        "ip",
                        "netns",
                        "exec",
                        tweed.nodeNs("node-1"),
                        "cat",
                        "/proc/sys/net/ipv4/conf/" + hostIf + "/proxy_arp"))
                .strip())
        .isEqualTo("1");

    // Real traffic: a probe server in the runtime's sandbox answers a client in another node.
    String client = sandbox();
    Command.Result r =
        Command.exec(
            List.of(
                "ip", "netns", "exec", tweed.nodeNs("node-2"), bin.resolve("tweed-cni").toString()),
            Json.write(Json.parse(tweed.ok("lab", "netconf", "node-2")))
                .getBytes(StandardCharsets.UTF_8),
            Map.of(
                "CNI_COMMAND",
                "ADD",
                "CNI_CONTAINERID",
                "c-client",
                "CNI_NETNS",
                NetworkNamespace.pathOf(client).toString(),
                "CNI_IFNAME",
                "eth0",
                "CNI_PATH",
                bin.toString()),
            60);
    assertThat(r.exitCode()).as(r.stdout()).isZero();
    try (var server =
        new ProbeServer(
            NetworkNamespace.pathOf(ns),
            "runtime/pod",
            List.of(new ProbeServer.Port(7000, "TCP")))) {
      var probe =
          ProbeClient.probe(
              NetworkNamespace.pathOf(client), ip, 7000, "tcp", Duration.ofSeconds(3));
      assertThat(probe.connected()).as(probe.reason()).isTrue();
      assertThat(probe.answer()).isEqualTo("runtime/pod");
    }
    Command.exec(
        List.of("ip", "netns", "exec", tweed.nodeNs("node-2"), bin.resolve("tweed-cni").toString()),
        Json.write(Json.parse(tweed.ok("lab", "netconf", "node-2")))
            .getBytes(StandardCharsets.UTF_8),
        Map.of(
            "CNI_COMMAND",
            "DEL",
            "CNI_CONTAINERID",
            "c-client",
            "CNI_IFNAME",
            "eth0",
            "CNI_PATH",
            bin.toString()),
        60);

    // ADD again for the same attachment describes it again.
    assertThat(
            cni("ADD", "c-add-1", ns, "eth0", netconf)
                .json()
                .path("ips")
                .get(0)
                .path("address")
                .asText())
        .isEqualTo(cidr);
    assertThat(cni("CHECK", "c-add-1", ns, "eth0", withPrev(add.json())).code()).isZero();

    int before = allocations();
    assertThat(cni("DEL", "c-add-1", ns, "eth0", netconf).code()).isZero();
    assertThat(hostLinks()).doesNotContain(hostIf);
    assertThat(Tweed.ip(tweed.nodeNs("node-1"), "route", "show", ip)).isBlank();
    assertThat(allocations()).isEqualTo(before - 1);
    assertThat(cni("DEL", "c-add-1", ns, "eth0", netconf).code()).isZero();
    assertThat(cni("DEL", "never-added", null, "eth0", netconf).code()).isZero();
    assertThat(cni("CHECK", "c-add-1", ns, "eth0", netconf).json().path("code").asInt())
        .isEqualTo(3);
  }

  /** The lab's configuration naming 1.1.0, the version that has STATUS and GC. */
  static ObjectNode v11() {
    return netconf.deepCopy().put("cniVersion", "1.1.0");
  }

  static JsonNode withPrev(JsonNode result) {
    ObjectNode c = netconf.deepCopy();
    c.set("prevResult", result);
    return c;
  }

  @Test
  void aNamespaceNamedByProcessAndTheVersionsInTheWild() throws Exception {
    // A runtime may name the namespace by a process in it, and most conflists name 0.3.1.
    try (ProcessNetns holder = ProcessNetns.start()) {
      Path netns = holder.path();
      ObjectNode v031 = netconf.deepCopy().put("cniVersion", "0.3.1");
      Map<String, String> env =
          Map.of(
              "CNI_COMMAND", "ADD",
              "CNI_CONTAINERID", "c-proc",
              "CNI_NETNS", netns.toString(),
              "CNI_IFNAME", "eth0",
              "CNI_PATH", bin.toString());
      Out add = cniRaw(env, Json.write(v031));
      assertThat(add.code()).as(add.raw()).isZero();
      assertThat(add.json().path("cniVersion").asText()).isEqualTo("0.3.1");
      JsonNode ip = add.json().path("ips").get(0);
      assertThat(ip.path("version").asText()).isEqualTo("4");
      String address = ip.path("address").asText();
      assertThat(
              Command.run(List.of("nsenter", "--net=" + netns, "ip", "-4", "-o", "addr", "show")))
          .contains("inet " + address);
      Map<String, String> del = new HashMap<>(env);
      del.put("CNI_COMMAND", "DEL");
      assertThat(cniRaw(del, Json.write(v031)).code()).isZero();
      Map<String, String> check = new HashMap<>(env);
      check.put("CNI_COMMAND", "CHECK");
      assertThat(cniRaw(check, Json.write(v031)).json().path("code").asInt())
          .as("CHECK arrived in 0.4.0")
          .isEqualTo(1);
    }
  }

  @Test
  void checkNoticesAPodThatLostItsAddress() {
    String ns = sandbox();
    Out add = cni("ADD", "c-check", ns, "eth0", netconf);
    assertThat(add.code()).isZero();
    String cidr = add.json().path("ips").get(0).path("address").asText();
    Tweed.ip(ns, "addr", "del", cidr, "dev", "eth0");
    Out check = cni("CHECK", "c-check", ns, "eth0", withPrev(add.json()));
    assertThat(check.code()).isNotZero();
    assertThat(check.json().path("msg").asText()).contains("does not hold");
    cni("DEL", "c-check", ns, "eth0", netconf);
  }

  @Test
  void malformedRequestsGetSpecErrorsAndLeaveNothingBehind() {
    String ns = sandbox();
    String links = hostLinks();
    int allocs = allocations();
    Out badJson =
        cniRaw(
            Map.of(
                "CNI_COMMAND",
                "ADD",
                "CNI_CONTAINERID",
                "c-bad",
                "CNI_NETNS",
                NetworkNamespace.pathOf(ns).toString(),
                "CNI_IFNAME",
                "eth0",
                "CNI_PATH",
                bin.toString()),
            "{\"cniVersion\":\"1.1.0\", \"agentSocket\": \""
                + netconf.path("agentSocket").asText()
                + "\", oops");
    assertThat(badJson.code()).isNotZero();
    assertThat(badJson.json().path("code").asInt()).isEqualTo(6);
    // Undecodable input is code 6 before anything else, also when no agent answers.
    Out noAgent =
        cniRaw(
            Map.of("CNI_COMMAND", "ADD", "CNI_CONTAINERID", "c-bad", "CNI_IFNAME", "eth0"),
            "{not json");
    assertThat(noAgent.json().path("code").asInt()).as(noAgent.raw()).isEqualTo(6);
    // A CNI_NETNS that is a file but no network namespace.
    Out notNetns =
        cniRaw(
            Map.of(
                "CNI_COMMAND", "ADD",
                "CNI_CONTAINERID", "c-bad",
                "CNI_NETNS", "/etc/hostname",
                "CNI_IFNAME", "eth0",
                "CNI_PATH", bin.toString()),
            Json.write(netconf));
    assertThat(notNetns.json().path("code").asInt()).as(notNetns.raw()).isEqualTo(4);
    assertThat(notNetns.json().path("msg").asText()).contains("not a network namespace");
    assertThat(cni("ADD", "c-bad", ns, null, netconf).json().path("code").asInt()).isEqualTo(4);
    assertThat(cni("ADD", null, ns, "eth0", netconf).json().path("code").asInt()).isEqualTo(4);
    ObjectNode old = netconf.deepCopy();
    old.put("cniVersion", "0.2.0");
    assertThat(cni("ADD", "c-bad", ns, "eth0", old).json().path("code").asInt()).isEqualTo(1);
    ObjectNode badPool = netconf.deepCopy();
    badPool.withObject("ipam").put("pool", "10.300.0.0/16");
    assertThat(cni("ADD", "c-bad", ns, "eth0", badPool).json().path("code").asInt()).isEqualTo(7);
    Out noNetns = cni("ADD", "c-bad", tweed.prefix() + "does-not-exist", "eth0", netconf);
    assertThat(noNetns.json().path("code").asInt()).isEqualTo(4);
    // An interface name the pod's namespace refuses fails after IPAM: it must be rolled back.
    Tweed.ip(ns, "link", "add", "taken0", "type", "veth", "peer", "name", "taken1");
    Out clash = cni("ADD", "c-bad", ns, "taken0", netconf);
    assertThat(clash.code()).isNotZero();
    assertThat(clash.json().path("code").asInt()).isGreaterThanOrEqualTo(100);
    assertThat(hostLinks()).isEqualTo(links);
    assertThat(allocations()).isEqualTo(allocs);
  }

  @Test
  void statusReportsAReadyAgent() {
    assertThat(cni("STATUS", null, null, null, v11()).code()).isZero();
    assertThat(cni("STATUS", null, null, null, netconf).json().path("code").asInt())
        .as("STATUS needs 1.1.0")
        .isEqualTo(1);
    ObjectNode elsewhere = v11();
    elsewhere.put("agentSocket", "/run/tweed/" + tweed.lab() + "/nodes/nowhere/agent.sock");
    Out down = cni("STATUS", null, null, null, elsewhere);
    assertThat(down.code()).isNotZero();
    assertThat(down.json().path("code").asInt()).isEqualTo(11);
  }

  @Test
  void twoHundredConcurrentAddsGetDistinctAddressesAndGcReclaimsAKilledAdd() throws Exception {
    int n = 200;
    List<String> netnses = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      netnses.add(sandbox());
    }
    List<String> ips = new ArrayList<>();
    try (ExecutorService pool = Executors.newFixedThreadPool(50)) {
      List<Future<Out>> fs = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        int k = i;
        fs.add(pool.submit(() -> cni("ADD", "c-many-" + k, netnses.get(k), "eth0", netconf)));
      }
      for (var f : fs) {
        Out o = f.get();
        assertThat(o.code()).as(o.raw()).isZero();
        ips.add(o.json().path("ips").get(0).path("address").asText());
      }
    }
    assertThat(new HashSet<>(ips)).hasSize(n);

    // An ADD whose plugin process is killed mid-call: the runtime never learns the result.
    String killed = sandbox();
    ProcessBuilder pb =
        new ProcessBuilder(
            "ip", "netns", "exec", tweed.nodeNs("node-1"), bin.resolve("tweed-cni").toString());
    pb.environment()
        .putAll(
            Map.of(
                "CNI_COMMAND",
                "ADD",
                "CNI_CONTAINERID",
                "c-killed",
                "CNI_NETNS",
                NetworkNamespace.pathOf(killed).toString(),
                "CNI_IFNAME",
                "eth0",
                "CNI_PATH",
                bin.toString()));
    Process p = pb.start();
    p.getOutputStream().write(Json.write(netconf).getBytes(StandardCharsets.UTF_8));
    p.getOutputStream().close();
    // Killed a few milliseconds in, somewhere inside its ADD; GC below must reclaim whatever it
    // left, whenever exactly that was.
    Thread.sleep(5);
    p.destroyForcibly().waitFor();
    Thread.sleep(1000);

    // GC with only half of the many attachments valid: everything else goes, the killed ADD
    // included.
    ObjectNode gc = v11();
    var valid = gc.putArray("cni.dev/valid-attachments");
    Set<String> keptIps = new HashSet<>();
    for (int i = 0; i < n; i += 2) {
      valid.addObject().put("containerID", "c-many-" + i).put("ifname", "eth0");
      keptIps.add(ips.get(i));
    }
    Out gcOut = cni("GC", null, null, null, gc);
    assertThat(gcOut.code()).as(gcOut.raw()).isZero();
    assertThat(allocations()).isEqualTo(n / 2);
    long hostVeths = hostLinks().lines().filter(l -> l.matches("\\d+: tw[0-9a-f]{11}@.*")).count();
    assertThat(hostVeths).isEqualTo(n / 2);
    for (int i = 0; i < n; i += 2) {
      assertThat(cni("DEL", "c-many-" + i, netnses.get(i), "eth0", netconf).code()).isZero();
    }
    assertThat(allocations()).isZero();
    for (String ns : netnses) {
      Namespaces.delete(ns);
    }
  }
}
