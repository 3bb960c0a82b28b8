package dev.tweed.it;

import static dev.tweed.it.BpfTestBed.count;
import static dev.tweed.it.BpfTestBed.ipcache;
import static org.assertj.core.api.Assertions.assertThat;

import dev.tweed.ebpf.Datapath;
import dev.tweed.ebpf.DatapathMaps;
import dev.tweed.ebpf.EbpfIntent;
import dev.tweed.ebpf.Identities;
import dev.tweed.ebpf.LbMapWriter;
import dev.tweed.ebpf.LbMaps;
import dev.tweed.ebpf.ServiceLbCalculator;
import dev.tweed.model.IpAddress;
import dev.tweed.model.IpFamily;
import dev.tweed.proxy.ProxyNode;
import dev.tweed.proxy.ServicePort;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import org.assertj.core.api.Assertions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The programs' load balancing run by the kernel's test runner (BPF_PROG_TEST_RUN), with the maps
 * written the agent's way (calculator and writer, from service ports): the translation of a request
 * and of its reply (checksums included), affinity, refusal without endpoints, node ports under
 * Local and Cluster policy, and a pod reaching itself.
 */
class ServiceProgramIT {
  private static final int TC_ACT_SHOT = 2;
  private static final int TC_ACT_REDIRECT = 7;
  private static final int TCP = 6;
  private static final int UDP = 17;

  private static final String NODE2 =
      "172.31.0.12"; // node-2's IPv4 underlay: both families' tunnel

  /**
   * One family's addresses: the node's own, a client outside the cluster (the router), local pods a
   * (on podA) and c (on podC) and e (no device), remote pods b and d on node-2; {@link #vip} a
   * ClusterIP of the family's Service range.
   */
  record Pods(
      IpFamily family,
      String nodeIp,
      String client,
      String a,
      String c,
      String e,
      String b,
      String d,
      String podCidr,
      String serviceCidr) {
    String vip(int n) {
      return family == IpFamily.IPV4 ? "10.96.0." + n : "fd00:10:96::" + Integer.toHexString(n);
    }

    String host(String ip) {
      return ip + "/" + family.bits();
    }

    String map(String ipv4Map) {
      return DatapathMaps.of(ipv4Map, family);
    }
  }

  static final Map<IpFamily, Pods> PODS =
      Map.of(
          IpFamily.IPV4,
          new Pods(
              IpFamily.IPV4,
              "172.31.0.11",
              "172.31.0.1",
              "10.244.1.10",
              "10.244.1.11",
              "10.244.1.12",
              "10.244.2.20",
              "10.244.2.21",
              "10.244.0.0/16",
              "10.96.0.0/16"),
          IpFamily.IPV6,
          new Pods(
              IpFamily.IPV6,
              "fd00:172:31::11",
              "fd00:172:31::1",
              "fd00:10:244:1::a",
              "fd00:10:244:1::b",
              "fd00:10:244:1::c",
              "fd00:10:244:2::14",
              "fd00:10:244:2::15",
              "fd00:10:244::/56",
              "fd00:10:96::/112"));

  /** {@code ip:port}, an IPv6 address in brackets: how {@link Frames#flow} writes an end. */
  private static String hp(String ip, int port) {
    return IpAddress.hostPort(ip, port);
  }

  private static BpfTestBed bed;
  private static int podA;
  private static int podC;
  private static int eth0;

  @BeforeAll
  static void build() throws Exception {
    bed = new BpfTestBed("bpfl");
    podA = bed.veth("podA");
    podC = bed.veth("podC");
    eth0 = bed.veth("eth0");
    bed.ip("link", "set", "eth0", "up");
    bed.ip("link", "set", "eth0-peer", "up");
    // Forwarding on, as on a node, and the uplink, so a reply to the world finds its route.
    ScratchNetwork.exec(bed.namespace(), "", "sysctl", "-qw", "net.ipv4.ip_forward=1");
    ScratchNetwork.exec(bed.namespace(), "", "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1");
    bed.ip("addr", "add", PODS.get(IpFamily.IPV4).nodeIp() + "/24", "dev", "eth0");
    bed.ip("addr", "add", PODS.get(IpFamily.IPV6).nodeIp() + "/64", "dev", "eth0", "nodad");
  }

  @AfterAll
  static void cleanUp() {
    if (bed != null) {
      bed.close();
    }
  }

  private static <T> T inNamespace(Callable<T> work) throws Exception {
    return bed.call(work);
  }

  /** A load with its own pins: two local pods (not isolated), two remote ones, the services. */
  private static Datapath load(Pods p, String pins, List<ServicePort> services) {
    return load(p, pins, services, Map.of());
  }

  private static void endpoint(Datapath d, String ip, int ifindex, int id, int identity) {
    endpoint(d, ip, ifindex, id, identity, false, false);
  }

  private static void endpoint(
      Datapath d, String ip, int ifindex, int id, int identity, boolean in, boolean out) {
    BpfTestBed.endpoint(d, ip, ifindex, id, identity, in, out, "0a:00:00:00:00:0a");
  }

  /** The family's calculator, as the agent keeps one per family. */
  private static ServiceLbCalculator calculator(Pods p) {
    return new ServiceLbCalculator(new ProxyNode("node-1", p.podCidr(), List.of(p.nodeIp())));
  }

  private static Datapath load(
      Pods p, String pins, List<ServicePort> services, Map<String, Integer> sizes) {
    Datapath d = bed.load(pins + p.family().number(), sizes);
    endpoint(d, p.a(), podA, 11, 300);
    endpoint(d, p.c(), podC, 12, 300);
    ipcache(d, "0.0.0.0/0", Identities.WORLD, "");
    ipcache(d, "::/0", Identities.WORLD, "");
    ipcache(d, p.host(p.a()), 300, "");
    ipcache(d, p.host(p.c()), 300, "");
    ipcache(d, p.host(p.b()), 400, NODE2);
    ipcache(d, p.host(p.d()), 400, NODE2);
    Pods v4 = PODS.get(IpFamily.IPV4);
    Pods v6 = PODS.get(IpFamily.IPV6);
    d.map(DatapathMaps.CONFIG)
        .put(DatapathMaps.index(0), DatapathMaps.config(77, v4.serviceCidr(), false, v4.nodeIp()));
    d.map(DatapathMaps.CONFIG6)
        .put(DatapathMaps.index(0), DatapathMaps.config6(v6.serviceCidr(), v6.nodeIp()));
    new LbMapWriter(d, p.family()).write(calculator(p).calculate(services), true);
    return d;
  }

  private static ServicePort.Endpoint ep(String ip, int port, String node) {
    return new ServicePort.Endpoint(ip, port, Optional.of(node));
  }

  private static ServicePort service(
      String name,
      String vip,
      int nodePort,
      boolean externalLocal,
      boolean internalLocal,
      Optional<Integer> affinity,
      List<ServicePort.Endpoint> eps) {
    return new ServicePort(
        "default",
        name,
        "",
        "TCP",
        vip,
        80,
        nodePort,
        List.of(),
        List.of(),
        List.of(),
        affinity,
        externalLocal,
        internalLocal,
        0,
        eps);
  }

  private static ServicePort clusterIp(String name, String vip, List<ServicePort.Endpoint> eps) {
    return service(name, vip, 0, false, false, Optional.empty(), eps);
  }

  static byte[] frame(int proto, String src, int sport, String dst, int dport, int tcpFlags) {
    return Frames.frame(proto, src, sport, dst, dport, tcpFlags);
  }

  static byte[] syn(String src, int sport, String dst, int dport) {
    return Frames.syn(src, sport, dst, dport);
  }

  static byte[] ack(String src, int sport, String dst, int dport) {
    return Frames.ack(src, sport, dst, dport);
  }

  static String flow(byte[] f) {
    return Frames.flow(f);
  }

  @ParameterizedTest
  @EnumSource(IpFamily.class)
  void aClusterIpIsTranslatedToItsBackendAndTheReplyBack(IpFamily family) throws Exception {
    Pods p = PODS.get(family);
    inNamespace(
        () -> {
          try (Datapath d =
              load(
                  p,
                  "dnat",
                  List.of(clusterIp("web", p.vip(10), List.of(ep(p.b(), 8080, "node-2")))))) {
            var out = d.testRun("from_container", syn(p.a(), 40000, p.vip(10), 80), podA, 0);
            assertThat(out.verdict()).isEqualTo(TC_ACT_REDIRECT);
            assertThat(flow(out.packet())).isEqualTo(hp(p.a(), 40000) + " > " + hp(p.b(), 8080));
            // Later packets of the connection go the same way.
            var next = d.testRun("from_container", ack(p.a(), 40000, p.vip(10), 80), podA, 0);
            assertThat(flow(next.packet())).isEqualTo(hp(p.a(), 40000) + " > " + hp(p.b(), 8080));
            // The backend's reply, arriving from its node, comes from the ClusterIP again.
            var reply = d.testRun("from_netdev", ack(p.b(), 8080, p.a(), 40000), eth0, 0);
            assertThat(reply.verdict()).isEqualTo(TC_ACT_REDIRECT);
            assertThat(flow(reply.packet()))
                .isEqualTo(hp(p.vip(10), 80) + " > " + hp(p.a(), 40000));
            // The same for UDP.
            var udp =
                d.testRun("from_container", frame(UDP, p.a(), 5353, p.vip(10), 80, 0), podA, 0);
            assertThat(udp.verdict()).isEqualTo(TC_ACT_SHOT).as("the service is TCP only");
          }
          return null;
        });
  }

  @ParameterizedTest
  @EnumSource(IpFamily.class)
  void anIcmpErrorAboutATranslatedConnectionIsTranslatedBackQuotedPacketIncluded(IpFamily family)
      throws Exception {
    Pods p = PODS.get(family);
    var dns =
        new ServicePort(
            "default",
            "dns",
            "",
            "UDP",
            p.vip(53),
            53,
            0,
            List.of(),
            List.of(),
            List.of(),
            Optional.empty(),
            false,
            false,
            0,
            List.of(ep(p.b(), 5353, "node-2")));
    inNamespace(
        () -> {
          try (Datapath d = load(p, "icmp", List.of(dns))) {
            var out =
                d.testRun("from_container", frame(UDP, p.a(), 40053, p.vip(53), 53, 0), podA, 0);
            assertThat(flow(out.packet())).isEqualTo(hp(p.a(), 40053) + " > " + hp(p.b(), 5353));
            // B has nothing on 5353: its kernel answers port unreachable, quoting what it got
            // (the IP header and 8 bytes of the datagram).
            byte[] sent = out.packet();
            byte[] quoted = Arrays.copyOfRange(sent, 14, Frames.l4(sent) + 8);
            var err = d.testRun("from_netdev", icmpUnreachable(p.b(), p.a(), quoted), eth0, 0);
            assertThat(err.verdict()).isEqualTo(TC_ACT_REDIRECT);
            byte[] f = err.packet();
            assertThat(Frames.source(f) + " > " + Frames.destination(f))
                .isEqualTo(p.vip(53) + " > " + p.a());
            // Both checksums verify: the outer header's (IPv4) and ICMP's (its pseudo-header's
            // addresses included in ICMPv6).
            Frames.flow(f);
            // The quoted packet, read as a frame of its own (behind the outer Ethernet header).
            byte[] inner = new byte[14 + f.length - Frames.l4(f) - 8];
            System.arraycopy(f, 0, inner, 0, 14);
            System.arraycopy(f, Frames.l4(f) + 8, inner, 14, inner.length - 14);
            if (family == IpFamily.IPV4) {
              assertThat(Frames.checksum(inner, 14, 20, 0)).as("quoted IP checksum").isZero();
            }
            int ports = 14 + (family == IpFamily.IPV4 ? 20 : 40);
            ByteBuffer b = ByteBuffer.wrap(inner);
            assertThat(
                    hp(Frames.source(inner), b.getShort(ports) & 0xffff)
                        + " > "
                        + hp(Frames.destination(inner), b.getShort(ports + 2) & 0xffff))
                .as("the quoted packet is what the client sent")
                .isEqualTo(hp(p.a(), 40053) + " > " + hp(p.vip(53), 53));
          }
          return null;
        });
  }

  /**
   * A port unreachable from {@code src} to {@code dst} quoting {@code quoted}: ICMP type 3 code 3,
   * or ICMPv6 type 1 code 4.
   */
  private static byte[] icmpUnreachable(String src, String dst, byte[] quoted) {
    boolean v6 = IpAddress.parse(src).family() == IpFamily.IPV6;
    ByteBuffer icmp = ByteBuffer.allocate(8 + quoted.length);
    icmp.put((byte) (v6 ? 1 : 3)).put((byte) (v6 ? 4 : 3)).putShort((short) 0).putInt(0);
    icmp.put(quoted);
    return Frames.ip(v6 ? Frames.ICMPV6 : Frames.ICMP, src, dst, icmp.array());
  }

  @ParameterizedTest
  @EnumSource(IpFamily.class)
  void clientIpAffinityKeepsOneBackendWhereRandomChoiceSpreads(IpFamily family) throws Exception {
    Pods p = PODS.get(family);
    var backends = List.of(ep(p.b(), 8080, "node-2"), ep(p.d(), 8080, "node-2"));
    inNamespace(
        () -> {
          try (Datapath d =
              load(
                  p,
                  "affinity",
                  List.of(
                      clusterIp("spread", p.vip(20), backends),
                      service("sticky", p.vip(21), 0, false, false, Optional.of(30), backends)))) {
            Set<String> spread = new HashSet<>();
            Set<String> sticky = new HashSet<>();
            for (int i = 0; i < 40; i++) {
              spread.add(
                  flow(d.testRun("from_container", syn(p.a(), 41000 + i, p.vip(20), 80), podA, 0)
                          .packet())
                      .split(" > ")[1]);
              sticky.add(
                  flow(d.testRun("from_container", syn(p.a(), 42000 + i, p.vip(21), 80), podA, 0)
                          .packet())
                      .split(" > ")[1]);
            }
            assertThat(spread).containsExactlyInAnyOrder(hp(p.b(), 8080), hp(p.d(), 8080));
            assertThat(sticky).hasSize(1);
            // Another client gets its own affinity entry.
            assertThat(d.map(p.map(LbMaps.AFFINITY)).entries()).hasSize(1);
            d.testRun("from_container", syn(p.c(), 42000, p.vip(21), 80), podC, 0);
            assertThat(d.map(p.map(LbMaps.AFFINITY)).entries()).hasSize(2);
          }
          return null;
        });
  }

  @ParameterizedTest
  @EnumSource(IpFamily.class)
  void anAffinityIsHonouredUntilItsTimeoutAndNotAfter(IpFamily family) throws Exception {
    Pods p = PODS.get(family);
    var backends = List.of(ep(p.b(), 8080, "node-2"), ep(p.d(), 8080, "node-2"));
    inNamespace(
        () -> {
          try (Datapath d =
              load(
                  p,
                  "timeout",
                  List.of(
                      service("sticky", p.vip(22), 0, false, false, Optional.of(30), backends)))) {
            flow(d.testRun("from_container", syn(p.a(), 46000, p.vip(22), 80), podA, 0).packet());
            var map = d.map(p.map(LbMaps.AFFINITY));
            byte[] key =
                map.entries().keySet().stream()
                    .map(HexFormat.of()::parseHex)
                    .findFirst()
                    .orElseThrow();
            var entry = LbMaps.affinity(key, map.get(key).orElseThrow());
            Map<Integer, String> ids = new HashMap<>();
            d.map(p.map(LbMaps.BACKENDS))
                .entries()
                .forEach(
                    (k, v) -> {
                      var b = LbMaps.backend(HexFormat.of().parseHex(k), v);
                      ids.put(b.id(), hp(b.ip(), b.port()));
                    });
            int other =
                ids.keySet().stream().filter(i -> i != entry.backend()).findFirst().orElseThrow();
            // Used 29 s ago (the clock is CLOCK_MONOTONIC, as the programs'): still honoured.
            Set<String> within = new HashSet<>();
            Set<String> after = new HashSet<>();
            for (int i = 0; i < 40; i++) {
              map.put(key, affinity(other, System.nanoTime() - 29_000_000_000L));
              within.add(
                  flow(d.testRun("from_container", syn(p.a(), 47000 + i, p.vip(22), 80), podA, 0)
                          .packet())
                      .split(" > ")[1]);
              map.put(key, affinity(other, System.nanoTime() - 31_000_000_000L));
              after.add(
                  flow(d.testRun("from_container", syn(p.a(), 48000 + i, p.vip(22), 80), podA, 0)
                          .packet())
                      .split(" > ")[1]);
            }
            assertThat(within).containsExactly(ids.get(other));
            assertThat(after).as("expired: chosen at random again").hasSize(2);
          }
          return null;
        });
  }

  private static byte[] affinity(int backend, long lastUsedNanos) {
    return ByteBuffer.allocate(16)
        .order(ByteOrder.LITTLE_ENDIAN)
        .putLong(lastUsedNanos)
        .putInt(backend)
        .putInt(0)
        .array();
  }

  @ParameterizedTest
  @EnumSource(IpFamily.class)
  void policySeesTheBackendTheServiceChose(IpFamily family) throws Exception {
    Pods p = PODS.get(family);
    inNamespace(
        () -> {
          try (Datapath d =
              load(
                  p,
                  "policy",
                  List.of(
                      clusterIp("allowed", p.vip(70), List.of(ep(p.b(), 8005, "node-2"))),
                      clusterIp("denied", p.vip(71), List.of(ep(p.d(), 8005, "node-2")))))) {
            // p.a() may send only to identity 400 on TCP 8005: p.b() is 400, p.d() becomes 500.
            endpoint(d, p.a(), podA, 11, 300, false, true);
            ipcache(d, p.host(p.d()), 500, NODE2);
            d.map(DatapathMaps.POLICY)
                .put(
                    DatapathMaps.policyKey(
                        new EbpfIntent.PolicyEntry(
                            11, EbpfIntent.Direction.EGRESS, 400, TCP, 8005, 16, "")),
                    DatapathMaps.POLICY_ALLOW);
            assertThat(
                    d.testRun("from_container", syn(p.a(), 50000, p.vip(70), 80), podA, 0)
                        .verdict())
                .isEqualTo(TC_ACT_REDIRECT);
            assertThat(
                    d.testRun("from_container", syn(p.a(), 50001, p.vip(71), 80), podA, 0)
                        .verdict())
                .isEqualTo(TC_ACT_SHOT);
            assertThat(count(d, "policy-denied")).isEqualTo(1);
            // p.a() denied connection leaves no translation its later packets could ride.
            var ack = d.testRun("from_container", ack(p.a(), 50001, p.vip(71), 80), podA, 0);
            assertThat(ack.verdict()).isEqualTo(TC_ACT_SHOT);
          }
          return null;
        });
  }

  @ParameterizedTest
  @EnumSource(IpFamily.class)
  void aServiceThatDoesNotFitIsNamedAndLeavesTheMapsAsTheyWere(IpFamily family) throws Exception {
    Pods p = PODS.get(family);
    inNamespace(
        () -> {
          // Room for four backends: "small" takes two, "big" wants three.
          try (Datapath d =
              load(
                  p,
                  "full",
                  List.of(
                      clusterIp(
                          "small",
                          p.vip(80),
                          List.of(ep(p.b(), 8080, "node-2"), ep(p.d(), 8080, "node-2")))),
                  Map.of(p.map(LbMaps.BACKENDS), 4))) {
            var calc = calculator(p);
            var writer = new LbMapWriter(d, family);
            var small =
                clusterIp(
                    "small",
                    p.vip(80),
                    List.of(ep(p.b(), 8080, "node-2"), ep(p.d(), 8080, "node-2")));
            writer.write(calc.calculate(List.of(small)), true);
            Map<String, Map<String, String>> before = contents(d, p);
            var big =
                clusterIp(
                    "big",
                    p.vip(81),
                    List.of(
                        ep(p.a(), 8080, "node-1"),
                        ep(p.c(), 8080, "node-1"),
                        ep(p.e(), 8080, "node-1")));
            Assertions.assertThatThrownBy(
                    () -> writer.write(calc.calculate(List.of(small, big)), false))
                .isInstanceOf(LbMapWriter.MapFullException.class)
                .hasMessageContaining("Service default/big/TCP did not fit");
            assertThat(contents(d, p)).isEqualTo(before);
            // The old service still answers.
            assertThat(
                    d.testRun("from_container", syn(p.a(), 51000, p.vip(80), 80), podA, 0)
                        .verdict())
                .isEqualTo(TC_ACT_REDIRECT);
          }
          return null;
        });
  }

  private static Map<String, Map<String, String>> contents(Datapath d, Pods p) {
    Map<String, Map<String, String>> out = new TreeMap<>();
    for (String m :
        List.of(LbMaps.FRONTENDS, LbMaps.SERVICES, LbMaps.BACKENDS, LbMaps.SOURCE_RANGES)) {
      Map<String, String> entries = new TreeMap<>();
      d.map(p.map(m)).entries().forEach((k, v) -> entries.put(k, HexFormat.of().formatHex(v)));
      out.put(m, entries);
    }
    return out;
  }

  @ParameterizedTest
  @EnumSource(IpFamily.class)
  void aServiceWithoutEndpointsAnswersPortUnreachable(IpFamily family) throws Exception {
    Pods p = PODS.get(family);
    inNamespace(
        () -> {
          try (Datapath d =
              load(
                  p,
                  "reject",
                  List.of(
                      clusterIp("nobody", p.vip(30), List.of()),
                      service(
                          "elsewhere",
                          p.vip(31),
                          0,
                          false,
                          true,
                          Optional.empty(),
                          List.of(ep(p.b(), 8080, "node-2")))))) {
            byte[] syn = syn(p.a(), 43000, p.vip(30), 80);
            var r = d.testRun("from_container", syn, podA, 0);
            assertThat(r.verdict()).isEqualTo(TC_ACT_REDIRECT);
            byte[] icmp = r.packet();
            boolean v6 = family == IpFamily.IPV6;
            // The refused packet's IP header and 8 bytes of TCP are quoted.
            int quoted = (v6 ? 40 : 20) + 8;
            assertThat(icmp.length).isEqualTo(Frames.l4(icmp) + 8 + quoted);
            assertThat(HexFormat.of().formatHex(icmp, 0, 12))
                .isEqualTo("0a000000000a" + "eeeeeeeeeeee");
            assertThat(Frames.protocol(icmp)).isEqualTo(v6 ? Frames.ICMPV6 : Frames.ICMP);
            assertThat(Frames.source(icmp) + " > " + Frames.destination(icmp))
                .isEqualTo(p.vip(30) + " > " + p.a());
            int l4 = Frames.l4(icmp);
            assertThat(icmp[l4]).as("destination unreachable").isEqualTo((byte) (v6 ? 1 : 3));
            assertThat(icmp[l4 + 1]).as("port unreachable").isEqualTo((byte) (v6 ? 4 : 3));
            Frames.flow(icmp); // its checksums verify
            // It quotes the refused packet's header, as the client's stack needs to match it.
            assertThat(HexFormat.of().formatHex(icmp, l4 + 8, icmp.length))
                .isEqualTo(HexFormat.of().formatHex(syn, 14, 14 + quoted));
            assertThat(count(d, "service-rejected")).isEqualTo(1);
            // internalTrafficPolicy Local with the only endpoint elsewhere: dropped, not refused.
            assertThat(
                    d.testRun("from_container", syn(p.a(), 43001, p.vip(31), 80), podA, 0)
                        .verdict())
                .isEqualTo(TC_ACT_SHOT);
            assertThat(count(d, "no-service")).isEqualTo(1);
          }
          return null;
        });
  }

  @ParameterizedTest
  @EnumSource(IpFamily.class)
  void nodePortsKeepTheClientAddressUnderLocalPolicyAndMasqueradeUnderCluster(IpFamily family)
      throws Exception {
    Pods p = PODS.get(family);
    inNamespace(
        () -> {
          try (Datapath d =
              load(
                  p,
                  "nodeport",
                  List.of(
                      service(
                          "local",
                          p.vip(40),
                          30080,
                          true,
                          false,
                          Optional.empty(),
                          List.of(ep(p.c(), 8080, "node-1"), ep(p.b(), 8080, "node-2"))),
                      service(
                          "cluster",
                          p.vip(41),
                          30081,
                          false,
                          false,
                          Optional.empty(),
                          List.of(ep(p.b(), 8080, "node-2"))),
                      service(
                          "far",
                          p.vip(42),
                          30082,
                          true,
                          false,
                          Optional.empty(),
                          List.of(ep(p.b(), 8080, "node-2")))))) {
            var local =
                d.testRun("from_netdev", syn(p.client(), 44000, p.nodeIp(), 30080), eth0, 0);
            assertThat(local.verdict()).isEqualTo(TC_ACT_REDIRECT);
            assertThat(flow(local.packet()))
                .isEqualTo(hp(p.client(), 44000) + " > " + hp(p.c(), 8080));
            var reply = d.testRun("from_container", ack(p.c(), 8080, p.client(), 44000), podC, 0);
            assertThat(reply.verdict()).isEqualTo(TC_ACT_REDIRECT);
            assertThat(flow(reply.packet()))
                .isEqualTo(hp(p.nodeIp(), 30080) + " > " + hp(p.client(), 44000));

            var cluster =
                d.testRun("from_netdev", syn(p.client(), 44001, p.nodeIp(), 30081), eth0, 0);
            assertThat(cluster.verdict()).isEqualTo(TC_ACT_REDIRECT);
            assertThat(flow(cluster.packet()))
                .isEqualTo(hp(p.nodeIp(), 44001) + " > " + hp(p.b(), 8080));
            var back = d.testRun("from_netdev", ack(p.b(), 8080, p.nodeIp(), 44001), eth0, 0);
            assertThat(flow(back.packet()))
                .isEqualTo(hp(p.nodeIp(), 30081) + " > " + hp(p.client(), 44001));

            // Local policy, no endpoint on this node: dropped as kube-proxy drops it.
            assertThat(
                    d.testRun("from_netdev", syn(p.client(), 44002, p.nodeIp(), 30082), eth0, 0)
                        .verdict())
                .isEqualTo(TC_ACT_SHOT);
          }
          return null;
        });
  }

  @ParameterizedTest
  @EnumSource(IpFamily.class)
  void theNodesOwnConnectionIsTranslatedOnItsWayOut(IpFamily family) throws Exception {
    Pods p = PODS.get(family);
    inNamespace(
        () -> {
          try (Datapath d =
              load(
                  p,
                  "host",
                  List.of(
                      clusterIp("web", p.vip(60), List.of(ep(p.c(), 8080, "node-1"))),
                      clusterIp("nobody", p.vip(61), List.of())))) {
            // Sent by the node (its default route leads out of eth0): into p.c()'s veth instead.
            var out = d.testRun("to_netdev", syn(p.nodeIp(), 49000, p.vip(60), 80), eth0, 0);
            assertThat(out.verdict()).isEqualTo(TC_ACT_REDIRECT);
            assertThat(out.mark() & DatapathMaps.MARK_FORWARDED)
                .as("to_container lets it be")
                .isNotZero();
            assertThat(flow(out.packet()))
                .isEqualTo(hp(p.nodeIp(), 49000) + " > " + hp(p.c(), 8080));
            // p.c()'s answer comes from the ClusterIP, and the node's stack takes it.
            var reply = d.testRun("from_container", ack(p.c(), 8080, p.nodeIp(), 49000), podC, 0);
            assertThat(reply.verdict()).isEqualTo(0);
            assertThat(flow(reply.packet()))
                .isEqualTo(hp(p.vip(60), 80) + " > " + hp(p.nodeIp(), 49000));
            // No endpoints: the refusal goes back into the node.
            var refused = d.testRun("to_netdev", syn(p.nodeIp(), 49001, p.vip(61), 80), eth0, 0);
            assertThat(refused.verdict()).isEqualTo(TC_ACT_REDIRECT);
            assertThat(Frames.protocol(refused.packet()))
                .as("ICMP")
                .isEqualTo(family == IpFamily.IPV6 ? Frames.ICMPV6 : Frames.ICMP);
          }
          return null;
        });
  }

  @ParameterizedTest
  @EnumSource(IpFamily.class)
  void aPodReachingItselfThroughItsServiceSeesTheNodeAsTheSource(IpFamily family) throws Exception {
    Pods p = PODS.get(family);
    inNamespace(
        () -> {
          try (Datapath d =
              load(
                  p,
                  "hairpin",
                  List.of(clusterIp("self", p.vip(50), List.of(ep(p.c(), 8080, "node-1")))))) {
            var out = d.testRun("from_container", syn(p.c(), 45000, p.vip(50), 80), podC, 0);
            assertThat(out.verdict()).isEqualTo(TC_ACT_REDIRECT);
            assertThat(flow(out.packet()))
                .isEqualTo(hp(p.nodeIp(), 45000) + " > " + hp(p.c(), 8080));
            var reply = d.testRun("from_container", ack(p.c(), 8080, p.nodeIp(), 45000), podC, 0);
            assertThat(reply.verdict()).isEqualTo(TC_ACT_REDIRECT);
            assertThat(flow(reply.packet()))
                .isEqualTo(hp(p.vip(50), 80) + " > " + hp(p.c(), 45000));
          }
          return null;
        });
  }
}
