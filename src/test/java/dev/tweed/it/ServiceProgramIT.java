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
import org.junit.jupiter.api.Test;

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

  private static final String NODE_IP = "172.31.0.11";
  private static final String CLIENT = "172.31.0.1"; // the router, outside the cluster
  private static final String A = "10.244.1.10"; // local pod on device podA
  private static final String C = "10.244.1.11"; // local pod on device podC
  private static final String B = "10.244.2.20"; // remote pod on node-2
  private static final String D = "10.244.2.21"; // remote pod on node-2
  private static final String NODE2 = "172.31.0.12";

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
    bed.ip("addr", "add", NODE_IP + "/24", "dev", "eth0");
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
  private static Datapath load(String pins, List<ServicePort> services) {
    return load(pins, services, Map.of());
  }

  private static void endpoint(Datapath d, String ip, int ifindex, int id, int identity) {
    endpoint(d, ip, ifindex, id, identity, false, false);
  }

  private static void endpoint(
      Datapath d, String ip, int ifindex, int id, int identity, boolean in, boolean out) {
    BpfTestBed.endpoint(d, ip, ifindex, id, identity, in, out, "0a:00:00:00:00:0a");
  }

  private static Datapath load(
      String pins, List<ServicePort> services, Map<String, Integer> sizes) {
    Datapath d = bed.load(pins, sizes);
    endpoint(d, A, podA, 11, 300);
    endpoint(d, C, podC, 12, 300);
    ipcache(d, "0.0.0.0/0", Identities.WORLD, "");
    ipcache(d, A + "/32", 300, "");
    ipcache(d, C + "/32", 300, "");
    ipcache(d, B + "/32", 400, NODE2);
    ipcache(d, D + "/32", 400, NODE2);
    d.map(DatapathMaps.CONFIG)
        .put(DatapathMaps.index(0), DatapathMaps.config(77, "10.96.0.0/16", false, NODE_IP));
    var calc = new ServiceLbCalculator(new ProxyNode("node-1", "10.244.0.0/16", List.of(NODE_IP)));
    new LbMapWriter(d).write(calc.calculate(services), true);
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

  /** An IPv4 TCP (or UDP) frame with correct checksums. */
  static byte[] frame(int proto, String src, int sport, String dst, int dport, int tcpFlags) {
    int l4 = proto == TCP ? 20 : 8 + 4;
    ByteBuffer b = ByteBuffer.allocate(14 + 20 + l4);
    b.put(HexFormat.of().parseHex("eeeeeeeeeeee0a000000000a")).putShort((short) 0x0800);
    b.put((byte) 0x45).put((byte) 0).putShort((short) (20 + l4)).putInt(0);
    b.put((byte) 64).put((byte) proto).putShort((short) 0);
    b.put(addr(src)).put(addr(dst));
    b.putShort((short) sport).putShort((short) dport);
    if (proto == TCP) {
      b.putInt(1).putInt(0).put((byte) 0x50).put((byte) tcpFlags).putShort((short) 65535);
      b.putInt(0);
    } else {
      b.putShort((short) l4).putShort((short) 0).putInt(0x70696e67);
    }
    byte[] f = b.array();
    ByteBuffer.wrap(f).putShort(24, (short) checksum(f, 14, 20, 0));
    int csumAt = 34 + (proto == TCP ? 16 : 6);
    ByteBuffer.wrap(f).putShort(csumAt, (short) checksum(f, 34, l4, pseudo(f, proto, l4)));
    return f;
  }

  static byte[] syn(String src, int sport, String dst, int dport) {
    return frame(TCP, src, sport, dst, dport, 0x02);
  }

  static byte[] ack(String src, int sport, String dst, int dport) {
    return frame(TCP, src, sport, dst, dport, 0x10);
  }

  private static long pseudo(byte[] f, int proto, int len) {
    long sum = 0;
    for (int i = 26; i < 34; i += 2) {
      sum += ((f[i] & 0xff) << 8) | (f[i + 1] & 0xff);
    }
    return sum + proto + len;
  }

  /** The Internet checksum of f[off, off+len) with {@code start} added: 0 when it verifies. */
  static int checksum(byte[] f, int off, int len, long start) {
    long sum = start;
    for (int i = off; i < off + len; i += 2) {
      sum += ((f[i] & 0xff) << 8) | (i + 1 < off + len ? f[i + 1] & 0xff : 0);
    }
    while (sum >> 16 != 0) {
      sum = (sum & 0xffff) + (sum >> 16);
    }
    return (int) (~sum & 0xffff);
  }

  private static byte[] addr(String a) {
    byte[] out = new byte[4];
    String[] p = a.split("\\.");
    for (int i = 0; i < 4; i++) {
      out[i] = (byte) Integer.parseInt(p[i]);
    }
    return out;
  }

  private static String addr(byte[] f, int off) {
    return (f[off] & 0xff)
        + "."
        + (f[off + 1] & 0xff)
        + "."
        + (f[off + 2] & 0xff)
        + "."
        + (f[off + 3] & 0xff);
  }

  /** "src:port > dst:port" of a frame out of a program, after checking both its checksums. */
  static String flow(byte[] f) {
    int proto = f[23] & 0xff;
    int l4 = (((f[16] & 0xff) << 8) | (f[17] & 0xff)) - 20;
    assertThat(checksum(f, 14, 20, 0)).as("IP header checksum").isZero();
    if (proto == TCP || proto == UDP) {
      assertThat(checksum(f, 34, l4, pseudo(f, proto, l4))).as("L4 checksum").isZero();
    }
    ByteBuffer b = ByteBuffer.wrap(f);
    return addr(f, 26)
        + ":"
        + (b.getShort(34) & 0xffff)
        + " > "
        + addr(f, 30)
        + ":"
        + (b.getShort(36) & 0xffff);
  }

  @Test
  void aClusterIpIsTranslatedToItsBackendAndTheReplyBack() throws Exception {
    inNamespace(
        () -> {
          try (Datapath d =
              load(
                  "dnat",
                  List.of(clusterIp("web", "10.96.0.10", List.of(ep(B, 8080, "node-2")))))) {
            var out = d.testRun("from_container", syn(A, 40000, "10.96.0.10", 80), podA, 0);
            assertThat(out.verdict()).isEqualTo(TC_ACT_REDIRECT);
            assertThat(flow(out.packet())).isEqualTo(A + ":40000 > " + B + ":8080");
            // Later packets of the connection go the same way.
            var next = d.testRun("from_container", ack(A, 40000, "10.96.0.10", 80), podA, 0);
            assertThat(flow(next.packet())).isEqualTo(A + ":40000 > " + B + ":8080");
            // The backend's reply, arriving from its node, comes from the ClusterIP again.
            var reply = d.testRun("from_netdev", ack(B, 8080, A, 40000), eth0, 0);
            assertThat(reply.verdict()).isEqualTo(TC_ACT_REDIRECT);
            assertThat(flow(reply.packet())).isEqualTo("10.96.0.10:80 > " + A + ":40000");
            // The same for UDP.
            var udp =
                d.testRun("from_container", frame(UDP, A, 5353, "10.96.0.10", 80, 0), podA, 0);
            assertThat(udp.verdict()).isEqualTo(TC_ACT_SHOT).as("the service is TCP only");
          }
          return null;
        });
  }

  @Test
  void anIcmpErrorAboutATranslatedConnectionIsTranslatedBackQuotedPacketIncluded()
      throws Exception {
    var dns =
        new ServicePort(
            "default",
            "dns",
            "",
            "UDP",
            "10.96.0.53",
            53,
            0,
            List.of(),
            List.of(),
            List.of(),
            Optional.empty(),
            false,
            false,
            0,
            List.of(ep(B, 5353, "node-2")));
    inNamespace(
        () -> {
          try (Datapath d = load("icmp", List.of(dns))) {
            var out =
                d.testRun("from_container", frame(UDP, A, 40053, "10.96.0.53", 53, 0), podA, 0);
            assertThat(flow(out.packet())).isEqualTo(A + ":40053 > " + B + ":5353");
            // B has nothing on 5353: its kernel answers port unreachable, quoting what it got.
            byte[] quoted = Arrays.copyOfRange(out.packet(), 14, 14 + 28);
            var err = d.testRun("from_netdev", icmpUnreachable(B, A, quoted), eth0, 0);
            assertThat(err.verdict()).isEqualTo(TC_ACT_REDIRECT);
            byte[] f = err.packet();
            assertThat(addr(f, 26) + " > " + addr(f, 30)).isEqualTo("10.96.0.53 > " + A);
            assertThat(checksum(f, 14, 20, 0)).as("outer IP checksum").isZero();
            assertThat(checksum(f, 34, f.length - 34, 0)).as("ICMP checksum").isZero();
            assertThat(checksum(f, 42, 20, 0)).as("quoted IP checksum").isZero();
            ByteBuffer b = ByteBuffer.wrap(f);
            assertThat(
                    addr(f, 54)
                        + ":"
                        + (b.getShort(62) & 0xffff)
                        + " > "
                        + addr(f, 58)
                        + ":"
                        + (b.getShort(64) & 0xffff))
                .as("the quoted packet is what the client sent")
                .isEqualTo(A + ":40053 > 10.96.0.53:53");
          }
          return null;
        });
  }

  /** An ICMP port unreachable from {@code src} to {@code dst} quoting 28 bytes of a packet. */
  private static byte[] icmpUnreachable(String src, String dst, byte[] quoted) {
    ByteBuffer b = ByteBuffer.allocate(14 + 20 + 8 + quoted.length);
    b.put(HexFormat.of().parseHex("eeeeeeeeeeee0a000000000a")).putShort((short) 0x0800);
    b.put((byte) 0x45).put((byte) 0).putShort((short) (20 + 8 + quoted.length)).putInt(0);
    b.put((byte) 64).put((byte) 1).putShort((short) 0);
    b.put(addr(src)).put(addr(dst));
    b.put((byte) 3).put((byte) 3).putShort((short) 0).putInt(0).put(quoted);
    byte[] f = b.array();
    ByteBuffer.wrap(f).putShort(24, (short) checksum(f, 14, 20, 0));
    ByteBuffer.wrap(f).putShort(36, (short) checksum(f, 34, 8 + quoted.length, 0));
    return f;
  }

  @Test
  void clientIpAffinityKeepsOneBackendWhereRandomChoiceSpreads() throws Exception {
    var backends = List.of(ep(B, 8080, "node-2"), ep(D, 8080, "node-2"));
    inNamespace(
        () -> {
          try (Datapath d =
              load(
                  "affinity",
                  List.of(
                      clusterIp("spread", "10.96.0.20", backends),
                      service(
                          "sticky", "10.96.0.21", 0, false, false, Optional.of(30), backends)))) {
            Set<String> spread = new HashSet<>();
            Set<String> sticky = new HashSet<>();
            for (int i = 0; i < 40; i++) {
              spread.add(
                  flow(d.testRun("from_container", syn(A, 41000 + i, "10.96.0.20", 80), podA, 0)
                          .packet())
                      .split(" > ")[1]);
              sticky.add(
                  flow(d.testRun("from_container", syn(A, 42000 + i, "10.96.0.21", 80), podA, 0)
                          .packet())
                      .split(" > ")[1]);
            }
            assertThat(spread).containsExactlyInAnyOrder(B + ":8080", D + ":8080");
            assertThat(sticky).hasSize(1);
            // Another client gets its own affinity entry.
            assertThat(d.map(LbMaps.AFFINITY).entries()).hasSize(1);
            d.testRun("from_container", syn(C, 42000, "10.96.0.21", 80), podC, 0);
            assertThat(d.map(LbMaps.AFFINITY).entries()).hasSize(2);
          }
          return null;
        });
  }

  @Test
  void anAffinityIsHonouredUntilItsTimeoutAndNotAfter() throws Exception {
    var backends = List.of(ep(B, 8080, "node-2"), ep(D, 8080, "node-2"));
    inNamespace(
        () -> {
          try (Datapath d =
              load(
                  "timeout",
                  List.of(
                      service(
                          "sticky", "10.96.0.22", 0, false, false, Optional.of(30), backends)))) {
            flow(d.testRun("from_container", syn(A, 46000, "10.96.0.22", 80), podA, 0).packet());
            var map = d.map(LbMaps.AFFINITY);
            byte[] key =
                map.entries().keySet().stream()
                    .map(HexFormat.of()::parseHex)
                    .findFirst()
                    .orElseThrow();
            var entry = LbMaps.affinity(key, map.get(key).orElseThrow());
            Map<Integer, String> ids = new HashMap<>();
            d.map(LbMaps.BACKENDS)
                .entries()
                .forEach(
                    (k, v) -> {
                      var b = LbMaps.backend(HexFormat.of().parseHex(k), v);
                      ids.put(b.id(), b.ip() + ":" + b.port());
                    });
            int other =
                ids.keySet().stream().filter(i -> i != entry.backend()).findFirst().orElseThrow();
            // Used 29 s ago (the clock is CLOCK_MONOTONIC, as the programs'): still honoured.
            Set<String> within = new HashSet<>();
            Set<String> after = new HashSet<>();
            for (int i = 0; i < 40; i++) {
              map.put(key, affinity(other, System.nanoTime() - 29_000_000_000L));
              within.add(
                  flow(d.testRun("from_container", syn(A, 47000 + i, "10.96.0.22", 80), podA, 0)
                          .packet())
                      .split(" > ")[1]);
              map.put(key, affinity(other, System.nanoTime() - 31_000_000_000L));
              after.add(
                  flow(d.testRun("from_container", syn(A, 48000 + i, "10.96.0.22", 80), podA, 0)
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

  @Test
  void policySeesTheBackendTheServiceChose() throws Exception {
    inNamespace(
        () -> {
          try (Datapath d =
              load(
                  "policy",
                  List.of(
                      clusterIp("allowed", "10.96.0.70", List.of(ep(B, 8005, "node-2"))),
                      clusterIp("denied", "10.96.0.71", List.of(ep(D, 8005, "node-2")))))) {
            // A may send only to identity 400 on TCP 8005: B is 400, D becomes 500.
            endpoint(d, A, podA, 11, 300, false, true);
            ipcache(d, D + "/32", 500, NODE2);
            d.map(DatapathMaps.POLICY)
                .put(
                    DatapathMaps.policyKey(
                        new EbpfIntent.PolicyEntry(
                            11, EbpfIntent.Direction.EGRESS, 400, TCP, 8005, 16, "")),
                    DatapathMaps.POLICY_ALLOW);
            assertThat(
                    d.testRun("from_container", syn(A, 50000, "10.96.0.70", 80), podA, 0).verdict())
                .isEqualTo(TC_ACT_REDIRECT);
            assertThat(
                    d.testRun("from_container", syn(A, 50001, "10.96.0.71", 80), podA, 0).verdict())
                .isEqualTo(TC_ACT_SHOT);
            assertThat(count(d, "policy-denied")).isEqualTo(1);
            // A denied connection leaves no translation its later packets could ride.
            var ack = d.testRun("from_container", ack(A, 50001, "10.96.0.71", 80), podA, 0);
            assertThat(ack.verdict()).isEqualTo(TC_ACT_SHOT);
          }
          return null;
        });
  }

  @Test
  void aServiceThatDoesNotFitIsNamedAndLeavesTheMapsAsTheyWere() throws Exception {
    inNamespace(
        () -> {
          // Room for four backends: "small" takes two, "big" wants three.
          try (Datapath d =
              load(
                  "full",
                  List.of(
                      clusterIp(
                          "small",
                          "10.96.0.80",
                          List.of(ep(B, 8080, "node-2"), ep(D, 8080, "node-2")))),
                  Map.of(LbMaps.BACKENDS, 4))) {
            var calc =
                new ServiceLbCalculator(new ProxyNode("node-1", "10.244.0.0/16", List.of(NODE_IP)));
            var writer = new LbMapWriter(d);
            var small =
                clusterIp(
                    "small", "10.96.0.80", List.of(ep(B, 8080, "node-2"), ep(D, 8080, "node-2")));
            writer.write(calc.calculate(List.of(small)), true);
            Map<String, Map<String, String>> before = contents(d);
            var big =
                clusterIp(
                    "big",
                    "10.96.0.81",
                    List.of(
                        ep(A, 8080, "node-1"),
                        ep(C, 8080, "node-1"),
                        ep("10.244.1.12", 8080, "node-1")));
            Assertions.assertThatThrownBy(
                    () -> writer.write(calc.calculate(List.of(small, big)), false))
                .isInstanceOf(LbMapWriter.MapFullException.class)
                .hasMessageContaining("Service default/big/TCP did not fit");
            assertThat(contents(d)).isEqualTo(before);
            // The old service still answers.
            assertThat(
                    d.testRun("from_container", syn(A, 51000, "10.96.0.80", 80), podA, 0).verdict())
                .isEqualTo(TC_ACT_REDIRECT);
          }
          return null;
        });
  }

  private static Map<String, Map<String, String>> contents(Datapath d) {
    Map<String, Map<String, String>> out = new TreeMap<>();
    for (String m :
        List.of(LbMaps.FRONTENDS, LbMaps.SERVICES, LbMaps.BACKENDS, LbMaps.SOURCE_RANGES)) {
      Map<String, String> entries = new TreeMap<>();
      d.map(m).entries().forEach((k, v) -> entries.put(k, HexFormat.of().formatHex(v)));
      out.put(m, entries);
    }
    return out;
  }

  @Test
  void aServiceWithoutEndpointsAnswersPortUnreachable() throws Exception {
    inNamespace(
        () -> {
          try (Datapath d =
              load(
                  "reject",
                  List.of(
                      clusterIp("nobody", "10.96.0.30", List.of()),
                      service(
                          "elsewhere",
                          "10.96.0.31",
                          0,
                          false,
                          true,
                          Optional.empty(),
                          List.of(ep(B, 8080, "node-2")))))) {
            byte[] syn = syn(A, 43000, "10.96.0.30", 80);
            var r = d.testRun("from_container", syn, podA, 0);
            assertThat(r.verdict()).isEqualTo(TC_ACT_REDIRECT);
            byte[] icmp = r.packet();
            assertThat(icmp.length).isEqualTo(70);
            assertThat(HexFormat.of().formatHex(icmp, 0, 12))
                .isEqualTo("0a000000000a" + "eeeeeeeeeeee");
            assertThat(icmp[23]).as("ICMP").isEqualTo((byte) 1);
            assertThat(addr(icmp, 26) + " > " + addr(icmp, 30)).isEqualTo("10.96.0.30 > " + A);
            assertThat(icmp[34]).as("destination unreachable").isEqualTo((byte) 3);
            assertThat(icmp[35]).as("port unreachable").isEqualTo((byte) 3);
            assertThat(checksum(icmp, 14, 20, 0)).isZero();
            assertThat(checksum(icmp, 34, 36, 0)).isZero();
            // It quotes the refused packet's header, as the client's stack needs to match it.
            assertThat(HexFormat.of().formatHex(icmp, 42, 70))
                .isEqualTo(HexFormat.of().formatHex(syn, 14, 42));
            assertThat(count(d, "service-rejected")).isEqualTo(1);
            // internalTrafficPolicy Local with the only endpoint elsewhere: dropped, not refused.
            assertThat(
                    d.testRun("from_container", syn(A, 43001, "10.96.0.31", 80), podA, 0).verdict())
                .isEqualTo(TC_ACT_SHOT);
            assertThat(count(d, "no-service")).isEqualTo(1);
          }
          return null;
        });
  }

  @Test
  void nodePortsKeepTheClientAddressUnderLocalPolicyAndMasqueradeUnderCluster() throws Exception {
    inNamespace(
        () -> {
          try (Datapath d =
              load(
                  "nodeport",
                  List.of(
                      service(
                          "local",
                          "10.96.0.40",
                          30080,
                          true,
                          false,
                          Optional.empty(),
                          List.of(ep(C, 8080, "node-1"), ep(B, 8080, "node-2"))),
                      service(
                          "cluster",
                          "10.96.0.41",
                          30081,
                          false,
                          false,
                          Optional.empty(),
                          List.of(ep(B, 8080, "node-2"))),
                      service(
                          "far",
                          "10.96.0.42",
                          30082,
                          true,
                          false,
                          Optional.empty(),
                          List.of(ep(B, 8080, "node-2")))))) {
            var local = d.testRun("from_netdev", syn(CLIENT, 44000, NODE_IP, 30080), eth0, 0);
            assertThat(local.verdict()).isEqualTo(TC_ACT_REDIRECT);
            assertThat(flow(local.packet())).isEqualTo(CLIENT + ":44000 > " + C + ":8080");
            var reply = d.testRun("from_container", ack(C, 8080, CLIENT, 44000), podC, 0);
            assertThat(reply.verdict()).isEqualTo(TC_ACT_REDIRECT);
            assertThat(flow(reply.packet())).isEqualTo(NODE_IP + ":30080 > " + CLIENT + ":44000");

            var cluster = d.testRun("from_netdev", syn(CLIENT, 44001, NODE_IP, 30081), eth0, 0);
            assertThat(cluster.verdict()).isEqualTo(TC_ACT_REDIRECT);
            assertThat(flow(cluster.packet())).isEqualTo(NODE_IP + ":44001 > " + B + ":8080");
            var back = d.testRun("from_netdev", ack(B, 8080, NODE_IP, 44001), eth0, 0);
            assertThat(flow(back.packet())).isEqualTo(NODE_IP + ":30081 > " + CLIENT + ":44001");

            // Local policy, no endpoint on this node: dropped as kube-proxy drops it.
            assertThat(
                    d.testRun("from_netdev", syn(CLIENT, 44002, NODE_IP, 30082), eth0, 0).verdict())
                .isEqualTo(TC_ACT_SHOT);
          }
          return null;
        });
  }

  @Test
  void theNodesOwnConnectionIsTranslatedOnItsWayOut() throws Exception {
    inNamespace(
        () -> {
          try (Datapath d =
              load(
                  "host",
                  List.of(
                      clusterIp("web", "10.96.0.60", List.of(ep(C, 8080, "node-1"))),
                      clusterIp("nobody", "10.96.0.61", List.of())))) {
            // Sent by the node (its default route leads out of eth0): into C's veth instead.
            var out = d.testRun("to_netdev", syn(NODE_IP, 49000, "10.96.0.60", 80), eth0, 0);
            assertThat(out.verdict()).isEqualTo(TC_ACT_REDIRECT);
            assertThat(out.mark() & DatapathMaps.MARK_FORWARDED)
                .as("to_container lets it be")
                .isNotZero();
            assertThat(flow(out.packet())).isEqualTo(NODE_IP + ":49000 > " + C + ":8080");
            // C's answer comes from the ClusterIP, and the node's stack takes it.
            var reply = d.testRun("from_container", ack(C, 8080, NODE_IP, 49000), podC, 0);
            assertThat(reply.verdict()).isEqualTo(0);
            assertThat(flow(reply.packet())).isEqualTo("10.96.0.60:80 > " + NODE_IP + ":49000");
            // No endpoints: the refusal goes back into the node.
            var refused = d.testRun("to_netdev", syn(NODE_IP, 49001, "10.96.0.61", 80), eth0, 0);
            assertThat(refused.verdict()).isEqualTo(TC_ACT_REDIRECT);
            assertThat(refused.packet()[23]).as("ICMP").isEqualTo((byte) 1);
          }
          return null;
        });
  }

  @Test
  void aPodReachingItselfThroughItsServiceSeesTheNodeAsTheSource() throws Exception {
    inNamespace(
        () -> {
          try (Datapath d =
              load(
                  "hairpin",
                  List.of(clusterIp("self", "10.96.0.50", List.of(ep(C, 8080, "node-1")))))) {
            var out = d.testRun("from_container", syn(C, 45000, "10.96.0.50", 80), podC, 0);
            assertThat(out.verdict()).isEqualTo(TC_ACT_REDIRECT);
            assertThat(flow(out.packet())).isEqualTo(NODE_IP + ":45000 > " + C + ":8080");
            var reply = d.testRun("from_container", ack(C, 8080, NODE_IP, 45000), podC, 0);
            assertThat(reply.verdict()).isEqualTo(TC_ACT_REDIRECT);
            assertThat(flow(reply.packet())).isEqualTo("10.96.0.50:80 > " + C + ":45000");
          }
          return null;
        });
  }
}
