package dev.tweed.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.datastore.JournalDatastore;
import dev.tweed.ebpf.BpfMap;
import dev.tweed.ebpf.DatapathMaps;
import dev.tweed.lab.LabBpf;
import dev.tweed.lab.LabLayout;
import dev.tweed.lab.ProbeClient;
import dev.tweed.lab.ProbeResult;
import dev.tweed.lab.ProbeServer;
import dev.tweed.model.IpFamilies;
import dev.tweed.model.IpFamily;
import dev.tweed.model.Json;
import dev.tweed.sys.Command;
import dev.tweed.sys.NetworkNamespace;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/** A 3-node lab with two pods per node: connectivity, drift repair, restarts, pod deletion. */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class LabIT {
  /** Made once the instance is whole: its name depends on what a subclass overrides. */
  Tweed tweed;

  List<JsonNode> pods;

  /** The datapath the lab runs; a subclass runs the tests that depend on it in the other one. */
  String dataplane() {
    return "standard";
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

  /** For tests of what no datapath changes (the store, the CLI): run in one mode only. */
  void onlyInTheStandardDataplane() {
    Assumptions.assumeTrue(dataplane().equals("standard"), "independent of the datapath");
  }

  @BeforeAll
  void up() throws Exception {
    tweed =
        Tweed.newLab(dataplane().equals("ebpf") ? "itb" : ipFamily().equals("ipv4") ? "it" : "it6");
    Path yaml = LabPods.yaml("x", "p", 3, 2, true);
    tweed.ok(
        "lab",
        "up",
        "--nodes",
        "3",
        "--dataplane",
        dataplane(),
        "--ip-family",
        ipFamily(),
        "-f",
        yaml.toString());
    pods = new ArrayList<>();
    Json.parse(tweed.ok("lab", "get", "pods", "-o", "json")).path("items").forEach(pods::add);
  }

  @AfterAll
  void down() {
    tweed.ok("lab", "down");
    assertThat(tweed.namespaces()).as("namespaces left behind").isEmpty();
    assertThat(Path.of("/run/tweed", tweed.lab())).doesNotExist();
  }

  static Path netns(JsonNode pod) {
    return LabPods.netns(pod);
  }

  static String ip(JsonNode pod) {
    return LabPods.ip(pod);
  }

  static String name(JsonNode pod) {
    return LabPods.name(pod);
  }

  JsonNode pod(String name) {
    return pods.stream().filter(p -> name(p).equals(name)).findFirst().orElseThrow();
  }

  @Test
  @Order(1)
  void everyPodRunsOnItsNodeWithAnAddressFromThatNodesBlock() {
    assertThat(pods).hasSize(6);
    for (JsonNode p : pods) {
      assertThat(p.path("status").path("phase").asText()).isEqualTo("Running");
      assertThat(p.path("status").path("podIPs"))
          .as("podIPs, one per family in the lab's order")
          .hasSize(families().size());
      assertThat(ip(p)).isEqualTo(LabPods.ip(p, families().getFirst()));
      String node = p.path("spec").path("nodeName").asText();
      for (IpFamily f : families()) {
        boolean v4 = f == IpFamily.IPV4;
        String addr = LabPods.ip(p, f);
        assertThat(addr).startsWith(v4 ? "10.244." : "fd00:10:244:");
        String routes = Tweed.ip(tweed.nodeNs(node), v4 ? "-4" : "-6", "route", "show", addr);
        assertThat(routes).as("a host route to the pod on its node").contains("proto 97");
        String podNs = netns(p).getFileName().toString();
        String fam = v4 ? "-4" : "-6";
        String podAddr = Tweed.ip(podNs, fam, "-o", "addr", "show", "dev", "eth0");
        assertThat(podAddr).contains(addr + (v4 ? "/32" : "/128"));
        String podRoute = Tweed.ip(podNs, fam, "route", "show", "default");
        assertThat(podRoute).contains(v4 ? "via 169.254.1.1" : "via fe80::ecee:eeff:feee:eeee");
      }
    }
  }

  @Test
  @Order(2)
  void everyPodReachesEveryOtherPodOverTcpAndUdp() throws Exception {
    assertThat(pods).hasSize(6);
    for (IpFamily f : families()) {
      assertThat(LabPods.unreachablePairs(pods, f)).as("of 60 %s probes", f.apiName()).isEmpty();
    }
  }

  /**
   * NAT-outgoing: to the router, outside the pod CIDR, a pod's packets leave with its node's
   * address of the family (the router has no route to the pods, so an answer proves it); to another
   * pod they keep the pod's own.
   */
  @Test
  @Order(2)
  void podsReachOutsideWithTheirNodesAddressAndEachOtherWithTheirOwn() throws Exception {
    onlyInTheStandardDataplane(); // the eBPF datapath has no NAT-outgoing yet
    JsonNode from = pods.getFirst();
    String node = from.path("spec").path("nodeName").asText();
    JsonNode to =
        pods.stream()
            .filter(p -> !p.path("spec").path("nodeName").asText().equals(node))
            .findFirst()
            .orElseThrow();
    List<String> nodeIps = LabLayout.nodeIps(node, IpFamilies.parse(ipFamily()));
    try (ProbeServer router =
        new ProbeServer(
            NetworkNamespace.pathOf(tweed.prefix() + "router"),
            "router",
            List.of(new ProbeServer.Port(9999, "UDP")))) {
      for (IpFamily f : families()) {
        String routerIp = f == IpFamily.IPV4 ? LabLayout.ROUTER_IP : LabLayout.ROUTER_IP6;
        String nodeIp = nodeIps.stream().filter(a -> IpFamily.of(a) == f).findFirst().orElseThrow();
        ProbeResult out = ProbeClient.clientIp(netns(from), routerIp, 9999, Duration.ofSeconds(2));
        assertThat(out.answer().strip()).as(f.apiName() + " to the router").isEqualTo(nodeIp);
        ProbeResult across =
            ProbeClient.clientIp(netns(from), LabPods.ip(to, f), 80, Duration.ofSeconds(2));
        assertThat(across.answer().strip())
            .as(f.apiName() + " to a pod on another node")
            .isEqualTo(LabPods.ip(from, f));
      }
    }
  }

  @Test
  @Order(3)
  void probeCommandReportsTheAnsweringPodOrWhyNot() {
    String out = tweed.ok("lab", "probe", "--from", "x/p11", "--to", "x/p31", "--port", "8080");
    assertThat(out.strip()).isEqualTo("x/p31");
    var refused = tweed.run("lab", "probe", "--from", "x/p11", "--to", "x/p31", "--port", "81");
    assertThat(refused.exitCode()).isEqualTo(1);
    assertThat(refused.stdout().strip()).isEqualTo("refused");
    var udpRefused =
        tweed.run(
            "lab",
            "probe",
            "--from",
            "x/p11",
            "--to",
            ip(pod("x/p21")),
            "--port",
            "8080",
            "--proto",
            "udp",
            "-o",
            "json");
    assertThat(udpRefused.exitCode()).isEqualTo(1);
    JsonNode j = Json.parse(udpRefused.stdout());
    assertThat(j.path("connected").asBoolean()).isFalse();
    assertThat(j.path("reason").asText()).isEqualTo("refused");
    var timeout =
        tweed.run("lab", "probe", "--from", "x/p11", "--to", "10.244.255.254", "--timeout", "500");
    assertThat(timeout.exitCode()).isEqualTo(1);
    assertThat(timeout.stdout().strip()).isIn("timed out", "No route to host");
  }

  @Test
  @Order(4)
  void deletedRoutesNeighboursAndFdbEntriesComeBack() {
    if (dataplane().equals("ebpf")) {
      deletedRoutesProgramsAndMapEntriesComeBack();
      return;
    }
    for (IpFamily f : families()) {
      deletedTunnelStateComesBack(f);
    }
    // A foreign route is not Tweed's to remove.
    String ns = tweed.nodeNs("node-1");
    Tweed.ip(ns, "route", "add", "192.0.2.0/24", "via", "172.31.0.1");
    try {
      // Two full passes later the agent has compared the routes with the kernel at least once.
      tweed.awaitPasses("node-1", 2);
      assertThat(Tweed.ip(ns, "route", "show", "192.0.2.0/24")).contains("192.0.2.0/24");
    } finally {
      Tweed.ip(ns, "route", "del", "192.0.2.0/24");
    }
  }

  /** One family's remote block route, local pod route, FDB and neighbour entry, deleted. */
  private void deletedTunnelStateComesBack(IpFamily f) {
    boolean v4 = f == IpFamily.IPV4;
    String dev = v4 ? "tweed.vxlan" : "tweed.vxlan6";
    String fam = v4 ? "-4" : "-6";
    String ns = tweed.nodeNs("node-1");
    String remoteBlockRoute =
        Tweed.ip(ns, fam, "route", "show", "dev", dev)
            .lines()
            .filter(l -> l.contains(v4 ? "/26" : "/122"))
            .findFirst()
            .orElseThrow();
    String dst = remoteBlockRoute.split(" ")[0];
    String localPodIp = LabPods.ip(pod("x/p11"), f);
    String fdb =
        Command.run(List.of("bridge", "-n", ns, "fdb", "show", "dev", dev))
            .lines()
            .filter(l -> l.contains("dst"))
            .findFirst()
            .orElseThrow();
    String mac = fdb.split(" ")[0];
    Tweed.ip(ns, fam, "route", "del", dst);
    Tweed.ip(ns, fam, "route", "del", localPodIp + (v4 ? "/32" : "/128"));
    Command.run(
        List.of(
            "bridge",
            "-n",
            ns,
            "fdb",
            "del",
            mac,
            "dev",
            dev,
            "dst",
            fdb.split("dst ")[1].split(" ")[0]));
    String neighIp =
        Tweed.ip(ns, fam, "neigh", "show", "dev", dev)
            .lines()
            .filter(l -> l.contains("PERMANENT"))
            .findFirst()
            .orElseThrow()
            .split(" ")[0];
    Tweed.ip(ns, "neigh", "del", neighIp, "dev", dev);
    Tweed.await(
        f.apiName() + " drift repaired",
        Duration.ofSeconds(5),
        () ->
            Tweed.ip(ns, fam, "route", "show", dst).contains(dev)
                && Tweed.ip(ns, fam, "route", "show", localPodIp).contains("proto 97")
                && Command.run(List.of("bridge", "-n", ns, "fdb", "show", "dev", dev)).contains(mac)
                && Tweed.ip(ns, fam, "neigh", "show", "dev", dev).contains(neighIp));
  }

  /**
   * The eBPF datapath's drift: a route into the collect-metadata VXLAN device, a pod's route, the
   * program on a pod's veth and the pod's endpoint entry, each removed behind the agent's back.
   */
  private void deletedRoutesProgramsAndMapEntriesComeBack() {
    String ns = tweed.nodeNs("node-1");
    String dst =
        Tweed.ip(ns, "route", "show", "dev", "tweed.vxlan")
            .lines()
            .filter(l -> l.contains("/26"))
            .findFirst()
            .orElseThrow()
            .split(" ")[0];
    String localPodIp = ip(pod("x/p11"));
    String hostIf = Tweed.ip(ns, "route", "show", localPodIp).split("dev ")[1].split(" ")[0];
    Tweed.ip(ns, "route", "del", dst);
    Tweed.ip(ns, "route", "del", localPodIp + "/32");
    Command.run(List.of("tc", "-n", ns, "filter", "del", "dev", hostIf, "ingress"));
    Path pins = LabBpf.pinDir(LabLayout.of(tweed.lab()), "node-1");
    try (var endpoints = BpfMap.pinned(pins.resolve(DatapathMaps.ENDPOINTS), 4, 28)) {
      byte[] key = DatapathMaps.endpointKey(localPodIp);
      assertThat(endpoints.remove(key)).isTrue();
      Tweed.await(
          "drift repaired",
          Duration.ofSeconds(10),
          () ->
              Tweed.ip(ns, "route", "show", dst).contains("tweed.vxlan")
                  && Tweed.ip(ns, "route", "show", localPodIp).contains("proto 97")
                  && Command.run(
                          List.of("tc", "-n", ns, "filter", "show", "dev", hostIf, "ingress"))
                      .contains("from_container")
                  && endpoints.get(key).isPresent());
    }
  }

  @Test
  @Order(5)
  void restartingAgentsUnderContinuousTrafficLosesNoProbe() throws Exception {
    JsonNode a = pod("x/p11");
    JsonNode b = pod("x/p21");
    List<ContinuousProbes.Path4> paths = new ArrayList<>();
    for (JsonNode[] pair : new JsonNode[][] {{a, b}, {b, a}}) {
      for (IpFamily f : families()) {
        for (String proto : List.of("tcp", "udp")) {
          paths.add(
              new ContinuousProbes.Path4(
                  name(pair[0]) + "->" + name(pair[1]) + " " + f.apiName(),
                  netns(pair[0]),
                  LabPods.ip(pair[1], f),
                  80,
                  proto));
        }
      }
    }
    var traffic = new ContinuousProbes(paths);
    String before = tweed.ok("lab", "status", "-o", "json");
    tweed.ok("lab", "agent", "restart", "node-1", "--kill");
    tweed.ok("lab", "agent", "restart", "node-2");
    // Traffic goes on until both new agents are ready and have seen more probes through.
    tweed.awaitAgentsReady();
    traffic.awaitMoreSent(20);
    traffic.close();
    String after = tweed.ok("lab", "status", "-o", "json");
    assertThat(Json.parse(after).get(0).path("pid").asLong())
        .isNotEqualTo(Json.parse(before).get(0).path("pid").asLong());
    assertThat(Json.parse(after).get(0).path("ready").asBoolean()).isTrue();
    assertThat(traffic.sent()).as("probes sent during the restarts").isGreaterThan(40);
    assertThat(traffic.lost()).as("probes lost during agent restarts").isEmpty();
  }

  @Test
  @Order(6)
  void deletingAPodRemovesItsVethRouteAndAddress() throws Exception {
    Path yaml = Files.createTempFile("gone", ".yaml");
    Files.writeString(
        yaml,
        "kind: Pod\nmetadata: {name: gone, namespace: x}\nspec: {nodeName: node-2, containers: [{name: c}]}\n");
    tweed.ok("lab", "apply", "-f", yaml.toString());
    JsonNode p = null;
    for (JsonNode x : Json.parse(tweed.ok("lab", "get", "pods", "-o", "json")).path("items")) {
      if (x.path("metadata").path("name").asText().equals("gone")) {
        p = x;
      }
    }
    assertThat(p).isNotNull();
    String podIp = ip(p);
    String ns = tweed.nodeNs("node-2");
    String hostIf = Tweed.ip(ns, "route", "show", podIp).split("dev ")[1].split(" ")[0];
    assertThat(Tweed.ip(ns, "link", "show")).contains(hostIf);
    assertThat(allocated(podIp)).isTrue();

    tweed.ok("lab", "delete", "-f", yaml.toString());
    assertThat(Tweed.ip(ns, "link", "show")).doesNotContain(hostIf);
    assertThat(Tweed.ip(ns, "route", "show", podIp)).isBlank();
    assertThat(allocated(podIp)).isFalse();
    assertThat(tweed.namespaces()).noneMatch(n -> n.endsWith("-pod-x-gone"));
  }

  private boolean allocated(String ip) {
    try (var store = new JournalDatastore(Path.of("/run/tweed", tweed.lab(), "store"))) {
      return store.list("IPAMBlock/").entries().stream()
          .anyMatch(e -> e.value().path("status").path("allocations").has(ip));
    }
  }

  @Test
  @Order(7)
  void invalidResourcesAreRejectedWholeWithTheObjectAndFieldNamed() throws Exception {
    onlyInTheStandardDataplane();
    Path yaml = Files.createTempFile("bad", ".yaml");
    Files.writeString(
        yaml,
        "kind: Pod\nmetadata: {name: fine, namespace: x}\nspec: {containers: [{name: c}]}\n---\n"
            + "kind: Pod\nmetadata: {name: broken, namespace: x}\nspec: {containers: [{name: c, ports: [{containerPort: 80, protocol: ICMP}]}]}\n");
    var r = tweed.run("lab", "apply", "-f", yaml.toString());
    assertThat(r.exitCode()).isEqualTo(1);
    assertThat(r.stderr()).contains("Pod x/broken: spec.containers[0].ports[0].protocol");
    assertThat(tweed.ok("lab", "get", "pods")).doesNotContain("fine");
  }

  @Test
  @Order(8)
  void aSecondLabUpIsRefusedAndTheNodesAreListed() {
    onlyInTheStandardDataplane();
    var r = tweed.run("lab", "up");
    assertThat(r.exitCode()).isNotZero();
    assertThat(r.stderr()).contains("already up");
    assertThat(tweed.ok("lab", "get", "nodes"))
        .contains("node-1", "node-2", "node-3", "Ready", "172.31.0.13");
    JsonNode nodes = Json.parse(tweed.ok("lab", "get", "nodes", "-o", "json"));
    assertThat(nodes.path("kind").asText()).isEqualTo("List");
    assertThat(nodes.path("items")).hasSize(3);
    assertThat(
            tweed.ok("lab", "exec", "x/p11", "--", "ip", "-4", "-o", "addr", "show", "dev", "eth0"))
        .contains(ip(pod("x/p11")));
    assertThat(
            tweed.ok("lab", "node-exec", "node-3", "--", "ip", "-o", "link", "show", "tweed.vxlan"))
        .contains("tweed.vxlan");
  }
}
