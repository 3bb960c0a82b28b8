package dev.tweed.it;

import static dev.tweed.it.BpfTestBed.count;
import static dev.tweed.it.BpfTestBed.endpoint;
import static dev.tweed.it.BpfTestBed.ipcache;
import static dev.tweed.it.BpfTestBed.policy;
import static org.assertj.core.api.Assertions.assertThat;

import dev.tweed.ebpf.BpfMap;
import dev.tweed.ebpf.ConntrackGc;
import dev.tweed.ebpf.Datapath;
import dev.tweed.ebpf.DatapathMapWriter;
import dev.tweed.ebpf.DatapathMaps;
import dev.tweed.ebpf.EbpfDataplane;
import dev.tweed.ebpf.EbpfIntent;
import dev.tweed.ebpf.EbpfIntent.Direction;
import dev.tweed.ebpf.FlowEvent;
import dev.tweed.ebpf.FlowEventReader;
import dev.tweed.ebpf.Identities;
import dev.tweed.sys.Command;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.ToIntFunction;
import org.assertj.core.api.Assertions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The datapath's programs run by the kernel's own test runner (BPF_PROG_TEST_RUN): crafted packets
 * and crafted map contents in, verdict and packet out. Everything is loaded with its maps pinned
 * under a bpffs this test mounts, and run inside a namespace of its own.
 */
class DatapathProgramIT {
  private static final int TC_ACT_OK = 0;
  private static final int TC_ACT_SHOT = 2;
  private static final int TC_ACT_REDIRECT = 7;
  private static final int MARK_FORWARDED = DatapathMaps.MARK_FORWARDED;
  private static final int TCP = 6;

  private static final String A = "10.244.1.10"; // local pod, sends on device LO
  private static final String C = "10.244.1.11"; // local pod on device podC
  private static final String B = "10.244.2.20"; // remote pod, identity 400
  private static final String D = "10.244.2.21"; // remote pod, identity 500
  private static final String NODE2 = "192.168.0.12";
  private static final int LO = 1;

  private static BpfTestBed bed;
  private static int podC;

  @BeforeAll
  static void build() throws Exception {
    bed = new BpfTestBed("bpft");
    podC = bed.veth("podC");
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

  /** A fresh load with its own pins (so tests do not share maps), with the two pods and policy. */
  private static Datapath load(String pins, Map<String, Integer> sizes) {
    Datapath d = bed.load(pins, sizes);
    endpoint(d, A, LO, 11, 300, true, true, "0a:00:00:00:00:0a");
    endpoint(d, C, podC, 12, 300, false, false, "0a:00:00:00:00:0c");
    ipcache(d, "0.0.0.0/0", Identities.WORLD, "");
    ipcache(d, A + "/32", 300, "");
    ipcache(d, C + "/32", 300, "");
    ipcache(d, B + "/32", 400, NODE2);
    ipcache(d, D + "/32", 500, NODE2);
    // A may reach identity 400 on TCP 8000-8007 (one /13 prefix of the port).
    policy(d, new EbpfIntent.PolicyEntry(11, Direction.EGRESS, 400, TCP, 8000, 13, ""));
    // A accepts identity 300 on every port.
    policy(d, new EbpfIntent.PolicyEntry(11, Direction.INGRESS, 300, 0, 0, 0, ""));
    d.map(DatapathMaps.CONFIG)
        .put(DatapathMaps.index(0), DatapathMaps.config(77, "10.96.0.0/16", false, "192.168.0.11"));
    return d;
  }

  /** An Ethernet frame with an IPv4 TCP SYN (checksums are not what the programs look at). */
  static byte[] tcp(String src, int sport, String dst, int dport) {
    return tcp(src, sport, dst, dport, 0x02);
  }

  /** The same with ACK alone: a packet of an established connection. */
  static byte[] ack(String src, int sport, String dst, int dport) {
    return tcp(src, sport, dst, dport, 0x10);
  }

  static byte[] tcp(String src, int sport, String dst, int dport, int flags) {
    ByteBuffer b = ByteBuffer.allocate(14 + 20 + 20);
    b.put(HexFormat.ofDelimiter(":").parseHex("ee:ee:ee:ee:ee:ee"));
    b.put(HexFormat.ofDelimiter(":").parseHex("0a:00:00:00:00:0a"));
    b.putShort((short) 0x0800);
    b.put((byte) 0x45).put((byte) 0).putShort((short) 40).putShort((short) 1).putShort((short) 0);
    b.put((byte) 64).put((byte) TCP).putShort((short) 0);
    b.put(ip(src)).put(ip(dst));
    b.putShort((short) sport).putShort((short) dport).putInt(1).putInt(0);
    b.put((byte) 0x50).put((byte) flags).putShort((short) 65535).putInt(0);
    return b.array();
  }

  private static byte[] ip(String a) {
    String[] p = a.split("\\.");
    return new byte[] {
      (byte) Integer.parseInt(p[0]),
      (byte) Integer.parseInt(p[1]),
      (byte) Integer.parseInt(p[2]),
      (byte) Integer.parseInt(p[3])
    };
  }

  @Test
  void egressPolicyAllowsByIdentityAndPortRangeAndEncapsulates() throws Exception {
    inNamespace(
        () -> {
          try (Datapath d = load("policy", Map.of())) {
            var allowed = d.testRun("from_container", tcp(A, 40000, B, 8005), LO, 0);
            assertThat(allowed.verdict()).isEqualTo(TC_ACT_REDIRECT);
            assertThat(allowed.mark() & MARK_FORWARDED).isEqualTo(MARK_FORWARDED);
            assertThat(d.testRun("from_container", tcp(A, 40001, B, 8007), LO, 0).verdict())
                .isEqualTo(TC_ACT_REDIRECT);
            // Just past the range, and the right port to another identity: denied and counted.
            assertThat(d.testRun("from_container", tcp(A, 40002, B, 8008), LO, 0).verdict())
                .isEqualTo(TC_ACT_SHOT);
            assertThat(d.testRun("from_container", tcp(A, 40003, D, 8005), LO, 0).verdict())
                .isEqualTo(TC_ACT_SHOT);
            assertThat(count(d, "policy-denied")).isEqualTo(2);
          }
          return null;
        });
  }

  @Test
  void theProgramsReportWhatTheyLetThroughAndWhatTheyDrop() throws Exception {
    inNamespace(
        () -> {
          var seen = new LinkedBlockingQueue<FlowEvent>();
          try (Datapath d = load("events", Map.of());
              var reader = new FlowEventReader(d.eventsFd(), seen::add)) {
            d.testRun("from_container", tcp(A, 40000, B, 8005), LO, 0);
            d.testRun("from_container", tcp(A, 40002, B, 8008), LO, 0);
            var allowed = seen.poll(5, TimeUnit.SECONDS);
            var denied = seen.poll(5, TimeUnit.SECONDS);
            assertThat(allowed).isNotNull();
            assertThat(allowed.verdict()).isEqualTo("FORWARDED");
            assertThat(allowed.program()).isEqualTo("from_container");
            assertThat(allowed.direction()).isEqualTo("egress");
            assertThat(
                    allowed.source()
                        + ":"
                        + allowed.sourcePort()
                        + " > "
                        + allowed.destination()
                        + ":"
                        + allowed.destinationPort())
                .isEqualTo(A + ":40000 > " + B + ":8005");
            assertThat(allowed.protocol()).isEqualTo(TCP);
            assertThat(denied).isNotNull();
            assertThat(denied.verdict()).isEqualTo("DROPPED");
            assertThat(denied.reason()).isEqualTo("policy-denied");
            assertThat(denied.destinationPort()).isEqualTo(8008);
            assertThat(denied.monotonicNanos()).isGreaterThanOrEqualTo(allowed.monotonicNanos());
          }
          return null;
        });
  }

  @Test
  void spoofedSourceIsDropped() throws Exception {
    inNamespace(
        () -> {
          try (Datapath d = load("spoof", Map.of())) {
            // C's address sent from A's device; and an address no pod has.
            assertThat(d.testRun("from_container", tcp(C, 1, B, 8005), LO, 0).verdict())
                .isEqualTo(TC_ACT_SHOT);
            assertThat(d.testRun("from_container", tcp("10.244.1.99", 1, B, 8005), LO, 0).verdict())
                .isEqualTo(TC_ACT_SHOT);
            assertThat(count(d, "spoofed-source")).isEqualTo(2);
          }
          return null;
        });
  }

  @Test
  void localDeliveryRewritesTheFrameForThePeer() throws Exception {
    inNamespace(
        () -> {
          try (Datapath d = load("local", Map.of())) {
            // A's egress policy allows only identity 400: a local pod of 300 is denied...
            assertThat(d.testRun("from_container", tcp(A, 1000, C, 80), LO, 0).verdict())
                .isEqualTo(TC_ACT_SHOT);
            // ...while C (not isolated) reaches A, which accepts 300: delivered to A's interface.
            ipcache(d, "10.244.1.11/32", 300, "");
            var r = d.testRun("from_container", tcp(C, 1000, A, 80), podC, 0);
            assertThat(r.verdict()).isEqualTo(TC_ACT_REDIRECT);
            assertThat(HexFormat.of().formatHex(r.packet(), 0, 12))
                .isEqualTo("0a000000000a" + "eeeeeeeeeeee");
          }
          return null;
        });
  }

  @Test
  void repliesPassWhereNewConnectionsDoNot() throws Exception {
    inNamespace(
        () -> {
          try (Datapath d = load("reply", Map.of())) {
            // A accepts nothing from identity 400: B's packets are denied...
            assertThat(d.testRun("from_overlay", ack(B, 8005, A, 40000), LO, 0).verdict())
                .isEqualTo(TC_ACT_SHOT);
            // ...but once A opened the connection, B's replies are delivered.
            assertThat(d.testRun("from_container", tcp(A, 40000, B, 8005), LO, 0).verdict())
                .isEqualTo(TC_ACT_REDIRECT);
            assertThat(d.testRun("from_overlay", ack(B, 8005, A, 40000), LO, 0).verdict())
                .isEqualTo(TC_ACT_REDIRECT);
            // A SYN from B with the same ports is a new connection, judged by the policy.
            assertThat(d.testRun("from_overlay", tcp(B, 8005, A, 40000), LO, 0).verdict())
                .isEqualTo(TC_ACT_SHOT);
            byte[] key = DatapathMaps.connectionKey(A, 40000, B, 8005, TCP);
            var ct = d.map(DatapathMaps.CONNTRACK).get(key).orElseThrow();
            var c = DatapathMaps.connection(key, ct);
            assertThat(c.source()).isEqualTo(A);
            assertThat(c.destinationPort()).isEqualTo(8005);
            assertThat(c.throughStack()).isFalse();
          }
          return null;
        });
  }

  @Test
  void anAddressOfTheServiceRangeWithoutAServiceIsDropped() throws Exception {
    inNamespace(
        () -> {
          try (Datapath d = load("service", Map.of())) {
            // No frontend for it: no rule anywhere would take it, so it goes nowhere.
            assertThat(d.testRun("from_container", tcp(A, 5000, "10.96.0.10", 80), LO, 0).verdict())
                .isEqualTo(TC_ACT_SHOT);
            assertThat(count(d, "no-service")).isEqualTo(1);
            assertThat(d.testRun("from_container", tcp(A, 5000, "8.8.8.8", 80), LO, 0).verdict())
                .isEqualTo(TC_ACT_SHOT);
          }
          return null;
        });
  }

  @Test
  void aFullConntrackTableEvictsTheLeastRecentlyUsed() throws Exception {
    inNamespace(
        () -> {
          try (Datapath d = load("full", Map.of(DatapathMaps.CONNTRACK, 64))) {
            for (int port = 1; port <= 512; port++) {
              assertThat(d.testRun("from_container", tcp(A, port, B, 8000), LO, 0).verdict())
                  .isEqualTo(TC_ACT_REDIRECT);
            }
            BpfMap ct = d.map(DatapathMaps.CONNTRACK);
            assertThat(ct.keys().size()).isLessThanOrEqualTo(64);
            // The oldest connection is gone: its reply now counts as a new connection to A, which
            // A's ingress policy does not allow. The newest is still tracked.
            assertThat(d.testRun("from_overlay", ack(B, 8000, A, 1), LO, 0).verdict())
                .isEqualTo(TC_ACT_SHOT);
            assertThat(d.testRun("from_overlay", ack(B, 8000, A, 512), LO, 0).verdict())
                .isEqualTo(TC_ACT_REDIRECT);
          }
          return null;
        });
  }

  /**
   * Opens connection {@code idle} from A to B and leaves it idle, then opens and closes {@code
   * churn} others (FIN both ways), collecting ended connections every 64 when {@code collect}. True
   * when B's next packet on the idle connection still passes: A's ingress policy would refuse it as
   * a new connection, so it passes only if its entry survived.
   */
  private static boolean idleSurvivesChurn(Datapath d, int churn, boolean collect) {
    var gc =
        new ConntrackGc(
            d.map(DatapathMaps.CONNTRACK),
            new ConntrackGc.Lifetimes(Duration.ZERO, Duration.ofHours(1), Duration.ofHours(1)));
    int idle = 1;
    assertThat(d.testRun("from_container", tcp(A, idle, B, 8000), LO, 0).verdict())
        .isEqualTo(TC_ACT_REDIRECT);
    assertThat(d.testRun("from_overlay", ack(B, 8000, A, idle), LO, 0).verdict())
        .isEqualTo(TC_ACT_REDIRECT);
    for (int i = 0; i < churn; i++) {
      int port = 1000 + i;
      assertThat(d.testRun("from_container", tcp(A, port, B, 8000), LO, 0).verdict())
          .isEqualTo(TC_ACT_REDIRECT);
      d.testRun("from_container", tcp(A, port, B, 8000, 0x11), LO, 0); // FIN, ACK
      d.testRun("from_overlay", tcp(B, 8000, A, port, 0x11), LO, 0);
      if (collect && i % 64 == 63) {
        gc.collect(System.nanoTime());
      }
    }
    return d.testRun("from_overlay", ack(B, 8000, A, idle), LO, 0).verdict() == TC_ACT_REDIRECT;
  }

  @Test
  void endedConnectionsAreCollectedSoAFullTableNeverEvictsAnIdleLiveOne() throws Exception {
    inNamespace(
        () -> {
          try (Datapath d = load("gc-off", Map.of(DatapathMaps.CONNTRACK, 1024))) {
            // Without collection, 4 tables' worth of short connections evict the idle one.
            assertThat(idleSurvivesChurn(d, 4096, false)).isFalse();
          }
          try (Datapath d = load("gc-on", Map.of(DatapathMaps.CONNTRACK, 1024))) {
            // A FIN marks its connection as ending; a SYN on the same ports starts it again.
            d.testRun("from_container", tcp(A, 7, B, 8000), LO, 0);
            d.testRun("from_container", tcp(A, 7, B, 8000, 0x11), LO, 0);
            byte[] key = DatapathMaps.connectionKey(A, 7, B, 8000, TCP);
            assertThat(flags(d, key) & DatapathMaps.CT_CLOSING).isNotZero();
            d.testRun("from_container", tcp(A, 7, B, 8000), LO, 0);
            assertThat(flags(d, key) & DatapathMaps.CT_CLOSING).isZero();
            d.testRun("from_container", tcp(A, 7, B, 8000, 0x04), LO, 0); // RST
            assertThat(flags(d, key) & DatapathMaps.CT_CLOSING).isNotZero();

            assertThat(idleSurvivesChurn(d, 4096, true)).isTrue();
            // What is left: the idle connection, and what ended since the last collection.
            assertThat(d.map(DatapathMaps.CONNTRACK).keys().size()).isLessThanOrEqualTo(1 + 64);
            var r =
                new ConntrackGc(
                        d.map(DatapathMaps.CONNTRACK),
                        new ConntrackGc.Lifetimes(
                            Duration.ZERO, Duration.ofHours(1), Duration.ofHours(1)))
                    .collect(System.nanoTime());
            assertThat(r.removed()).isEqualTo(r.scanned() - 1);
            assertThat(d.map(DatapathMaps.CONNTRACK).keys())
                .singleElement()
                .satisfies(
                    k -> assertThat(k).isEqualTo(DatapathMaps.connectionKey(A, 1, B, 8000, TCP)));
          }
          return null;
        });
  }

  private static int flags(Datapath d, byte[] key) {
    byte[] v = d.map(DatapathMaps.CONNTRACK).get(key).orElseThrow();
    return ByteBuffer.wrap(v).order(ByteOrder.LITTLE_ENDIAN).getInt(16);
  }

  /** A program the verifier refuses: it reads the packet without checking its length. */
  private static final String REFUSED =
      """
      #include <linux/bpf.h>
      #include <bpf/bpf_helpers.h>
      SEC("tc")
      int from_container(struct __sk_buff *skb)
      {
      	return *(int *)(long)skb->data;
      }
      char LICENSE[] SEC("license") = "GPL";
      """;

  @Test
  void aProgramTheVerifierRefusesLeavesThePreviousOnesAttachedAndSaysWhy() throws Exception {
    bed.ip("link", "add", "hostA", "type", "veth", "peer", "name", "podA");
    bed.ip("link", "set", "hostA", "up");
    Path pins = bed.bpffs().resolve("restart");
    var intent =
        new EbpfIntent(
            List.of(
                new EbpfIntent.Endpoint(
                    A, "x/a", "hostA", "0a:00:00:00:00:0a", 11, 300, false, false)),
            List.of(new EbpfIntent.IpcacheEntry("0.0.0.0/0", Identities.WORLD, "")),
            new TreeMap<>(),
            new TreeMap<>());
    inNamespace(
        () -> {
          try (var good =
              new EbpfDataplane(
                  bed.object(), pins, false, "10.96.0.0/16", "", "eth0", "ee:ee:ee:ee:ee:ee")) {
            good.apply(intent, true);
          }
          return null;
        });
    String before =
        ScratchNetwork.exec(bed.namespace(), "", "bpftool", "net", "show", "dev", "hostA");
    assertThat(before).contains("from_container").contains("to_container");

    Path dir = Files.createTempDirectory("tw-refused");
    Path src = dir.resolve("refused.c");
    Files.writeString(src, REFUSED);
    Path refused = dir.resolve("refused.o");
    Command.run(
        List.of(
            "clang",
            "-O2",
            "-g",
            "-target",
            "bpf",
            "-I/usr/include/x86_64-linux-gnu",
            "-c",
            src.toString(),
            "-o",
            refused.toString()));
    try {
      inNamespace(
          () -> {
            try (var restarted =
                new EbpfDataplane(
                    refused, pins, false, "10.96.0.0/16", "", "eth0", "ee:ee:ee:ee:ee:ee")) {
              Assertions.assertThatThrownBy(() -> restarted.apply(intent, true))
                  .hasMessageContaining("bpf_object__load");
              assertThat(restarted.loaded()).isFalse();
              assertThat(restarted.loadError()).contains("invalid access to packet");
            }
            return null;
          });
      assertThat(ScratchNetwork.exec(bed.namespace(), "", "bpftool", "net", "show", "dev", "hostA"))
          .isEqualTo(before);
      // The maps the previous programs use are still there, with their entries.
      try (var endpoints = BpfMap.pinned(pins.resolve(DatapathMaps.ENDPOINTS), 4, 28)) {
        assertThat(endpoints.get(DatapathMaps.endpointKey(A))).isPresent();
      }
    } finally {
      Command.exec(List.of("rm", "-rf", dir.toString()), "", Map.of());
    }
  }

  @Test
  void aMapWriteTheKernelRefusesLeavesTheOldEntries() throws Exception {
    inNamespace(
        () -> {
          try (Datapath d =
              Datapath.load(
                  bed.object(),
                  bed.bpffs().resolve("refused-write"),
                  Map.of(DatapathMaps.ENDPOINTS, 2))) {
            var writer = new DatapathMapWriter(d);
            var a =
                new EbpfIntent.Endpoint(
                    A, "x/a", "veth-a", "0a:00:00:00:00:0a", 11, 300, false, false);
            var c =
                new EbpfIntent.Endpoint(
                    C, "x/c", "veth-c", "0a:00:00:00:00:0c", 12, 300, false, false);
            var e =
                new EbpfIntent.Endpoint(
                    "10.244.1.12", "x/e", "veth-e", "0a:00:00:00:00:0e", 13, 300, false, false);
            ToIntFunction<String> ifindex = name -> 100 + name.charAt(5);
            writer.write(intent(List.of(a, c)), ifindex, "ee:ee:ee:ee:ee:ee", false);
            // c goes and e comes: e does not fit (two entries at most), so the pass stops before
            // it removes anything.
            Assertions.assertThatThrownBy(
                    () -> writer.write(intent(List.of(a, e)), ifindex, "ee:ee:ee:ee:ee:ee", false))
                .hasMessageContaining("bpf_map_update_elem");
            BpfMap endpoints = d.map(DatapathMaps.ENDPOINTS);
            assertThat(endpoints.get(DatapathMaps.endpointKey(A))).isPresent();
            assertThat(endpoints.get(DatapathMaps.endpointKey(C))).isPresent();
            assertThat(endpoints.keys()).hasSize(2);
          }
          return null;
        });
  }

  private static EbpfIntent intent(List<EbpfIntent.Endpoint> endpoints) {
    return new EbpfIntent(
        endpoints,
        List.of(new EbpfIntent.IpcacheEntry("0.0.0.0/0", Identities.WORLD, "")),
        new TreeMap<>(),
        new TreeMap<>());
  }
}
