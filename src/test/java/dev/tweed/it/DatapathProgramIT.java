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
import dev.tweed.model.IpFamily;
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
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

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
  private static final String NODE2 = "192.168.0.12"; // the remote pods' node (IPv4 underlay)
  private static final int LO = 1;

  /**
   * One family's addresses: local pods a (on LO) and c (on podC), remote pods b (identity 400) and
   * d (500), an address of the Service range without a Service, one of the world, and an address of
   * the pod range that no pod has.
   */
  record Pods(
      IpFamily family,
      String a,
      String c,
      String b,
      String d,
      String service,
      String world,
      String stranger) {
    String host(String ip) {
      return ip + "/" + family.bits();
    }
  }

  static final Map<IpFamily, Pods> PODS =
      Map.of(
          IpFamily.IPV4,
          new Pods(
              IpFamily.IPV4,
              A,
              C,
              "10.244.2.20",
              "10.244.2.21",
              "10.96.0.10",
              "8.8.8.8",
              "10.244.1.99"),
          IpFamily.IPV6,
          new Pods(
              IpFamily.IPV6,
              "fd00:10:244:1::a",
              "fd00:10:244:1::b",
              "fd00:10:244:2::14",
              "fd00:10:244:2::15",
              "fd00:10:96::a",
              "2001:db8::8",
              "fd00:10:244:1::63"));

  /** The conntrack map of the family. */
  private static String ct(IpFamily family) {
    return DatapathMaps.of(DatapathMaps.CONNTRACK, family);
  }

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

  /**
   * A fresh load with its own pins (so tests do not share maps), with the pods of both families and
   * the policy.
   */
  private static Datapath load(String pins, Map<String, Integer> sizes) {
    Datapath d = bed.load(pins, sizes);
    ipcache(d, "0.0.0.0/0", Identities.WORLD, "");
    ipcache(d, "::/0", Identities.WORLD, "");
    for (Pods p : PODS.values()) {
      endpoint(d, p.a(), LO, 11, 300, true, true, "0a:00:00:00:00:0a");
      endpoint(d, p.c(), podC, 12, 300, false, false, "0a:00:00:00:00:0c");
      ipcache(d, p.host(p.a()), 300, "");
      ipcache(d, p.host(p.c()), 300, "");
      ipcache(d, p.host(p.b()), 400, NODE2);
      ipcache(d, p.host(p.d()), 500, NODE2);
    }
    // A may reach identity 400 on TCP 8000-8007 (one /13 prefix of the port).
    policy(d, new EbpfIntent.PolicyEntry(11, Direction.EGRESS, 400, TCP, 8000, 13, ""));
    // A accepts identity 300 on every port.
    policy(d, new EbpfIntent.PolicyEntry(11, Direction.INGRESS, 300, 0, 0, 0, ""));
    d.map(DatapathMaps.CONFIG)
        .put(DatapathMaps.index(0), DatapathMaps.config(77, "10.96.0.0/16", false, "192.168.0.11"));
    d.map(DatapathMaps.CONFIG6)
        .put(DatapathMaps.index(0), DatapathMaps.config6("fd00:10:96::/112", "fd00:192:168::11"));
    return d;
  }

  /** A load of its own for one family's run of a test. */
  private static Datapath load(String pins, IpFamily family, Map<String, Integer> sizes) {
    return load(pins + family.number(), sizes);
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
    return Frames.tcp(src, sport, dst, dport, flags);
  }

  @ParameterizedTest
  @EnumSource(IpFamily.class)
  void egressPolicyAllowsByIdentityAndPortRangeAndEncapsulates(IpFamily family) throws Exception {
    Pods p = PODS.get(family);
    inNamespace(
        () -> {
          try (Datapath d = load("policy", family, Map.of())) {
            var allowed = d.testRun("from_container", tcp(p.a(), 40000, p.b(), 8005), LO, 0);
            assertThat(allowed.verdict()).isEqualTo(TC_ACT_REDIRECT);
            assertThat(allowed.mark() & MARK_FORWARDED).isEqualTo(MARK_FORWARDED);
            assertThat(d.testRun("from_container", tcp(p.a(), 40001, p.b(), 8007), LO, 0).verdict())
                .isEqualTo(TC_ACT_REDIRECT);
            // Just past the range, and the right port to another identity: denied and counted.
            assertThat(d.testRun("from_container", tcp(p.a(), 40002, p.b(), 8008), LO, 0).verdict())
                .isEqualTo(TC_ACT_SHOT);
            assertThat(d.testRun("from_container", tcp(p.a(), 40003, p.d(), 8005), LO, 0).verdict())
                .isEqualTo(TC_ACT_SHOT);
            assertThat(count(d, "policy-denied")).isEqualTo(2);
          }
          return null;
        });
  }

  @ParameterizedTest
  @EnumSource(IpFamily.class)
  void theProgramsReportWhatTheyLetThroughAndWhatTheyDrop(IpFamily family) throws Exception {
    Pods p = PODS.get(family);
    inNamespace(
        () -> {
          var seen = new LinkedBlockingQueue<FlowEvent>();
          try (Datapath d = load("events", family, Map.of());
              var reader = new FlowEventReader(d.eventsFd(), seen::add)) {
            d.testRun("from_container", tcp(p.a(), 40000, p.b(), 8005), LO, 0);
            d.testRun("from_container", tcp(p.a(), 40002, p.b(), 8008), LO, 0);
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
                .isEqualTo(p.a() + ":40000 > " + p.b() + ":8005");
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

  @ParameterizedTest
  @EnumSource(IpFamily.class)
  void spoofedSourceIsDropped(IpFamily family) throws Exception {
    Pods p = PODS.get(family);
    inNamespace(
        () -> {
          try (Datapath d = load("spoof", family, Map.of())) {
            // p.c()'s address sent from p.a()'s device; and an address no pod has.
            assertThat(d.testRun("from_container", tcp(p.c(), 1, p.b(), 8005), LO, 0).verdict())
                .isEqualTo(TC_ACT_SHOT);
            assertThat(
                    d.testRun("from_container", tcp(p.stranger(), 1, p.b(), 8005), LO, 0).verdict())
                .isEqualTo(TC_ACT_SHOT);
            assertThat(count(d, "spoofed-source")).isEqualTo(2);
          }
          return null;
        });
  }

  @ParameterizedTest
  @EnumSource(IpFamily.class)
  void localDeliveryRewritesTheFrameForThePeer(IpFamily family) throws Exception {
    Pods p = PODS.get(family);
    inNamespace(
        () -> {
          try (Datapath d = load("local", family, Map.of())) {
            // p.a()'s egress policy allows only identity 400: a local pod of 300 is denied...
            assertThat(d.testRun("from_container", tcp(p.a(), 1000, p.c(), 80), LO, 0).verdict())
                .isEqualTo(TC_ACT_SHOT);
            // ...while p.c() (not isolated) reaches p.a(), which accepts 300: delivered to p.a()'s
            // interface.
            ipcache(d, p.host(p.c()), 300, "");
            var r = d.testRun("from_container", tcp(p.c(), 1000, p.a(), 80), podC, 0);
            assertThat(r.verdict()).isEqualTo(TC_ACT_REDIRECT);
            assertThat(HexFormat.of().formatHex(r.packet(), 0, 12))
                .isEqualTo("0a000000000a" + "eeeeeeeeeeee");
          }
          return null;
        });
  }

  @ParameterizedTest
  @EnumSource(IpFamily.class)
  void repliesPassWhereNewConnectionsDoNot(IpFamily family) throws Exception {
    Pods p = PODS.get(family);
    inNamespace(
        () -> {
          try (Datapath d = load("reply", family, Map.of())) {
            // p.a() accepts nothing from identity 400: p.b()'s packets are denied...
            assertThat(d.testRun("from_overlay", ack(p.b(), 8005, p.a(), 40000), LO, 0).verdict())
                .isEqualTo(TC_ACT_SHOT);
            // ...but once p.a() opened the connection, p.b()'s replies are delivered.
            assertThat(d.testRun("from_container", tcp(p.a(), 40000, p.b(), 8005), LO, 0).verdict())
                .isEqualTo(TC_ACT_REDIRECT);
            assertThat(d.testRun("from_overlay", ack(p.b(), 8005, p.a(), 40000), LO, 0).verdict())
                .isEqualTo(TC_ACT_REDIRECT);
            // p.a() SYN from p.b() with the same ports is a new connection, judged by the policy.
            assertThat(d.testRun("from_overlay", tcp(p.b(), 8005, p.a(), 40000), LO, 0).verdict())
                .isEqualTo(TC_ACT_SHOT);
            byte[] key = DatapathMaps.connectionKey(p.a(), 40000, p.b(), 8005, TCP);
            var ct = d.map(ct(family)).get(key).orElseThrow();
            var c = DatapathMaps.connection(key, ct);
            assertThat(c.source()).isEqualTo(p.a());
            assertThat(c.destinationPort()).isEqualTo(8005);
            assertThat(c.throughStack()).isFalse();
          }
          return null;
        });
  }

  @ParameterizedTest
  @EnumSource(IpFamily.class)
  void anAddressOfTheServiceRangeWithoutAServiceIsDropped(IpFamily family) throws Exception {
    Pods p = PODS.get(family);
    inNamespace(
        () -> {
          try (Datapath d = load("service", family, Map.of())) {
            // No frontend for it: no rule anywhere would take it, so it goes nowhere.
            assertThat(
                    d.testRun("from_container", tcp(p.a(), 5000, p.service(), 80), LO, 0).verdict())
                .isEqualTo(TC_ACT_SHOT);
            assertThat(count(d, "no-service")).isEqualTo(1);
            assertThat(
                    d.testRun("from_container", tcp(p.a(), 5000, p.world(), 80), LO, 0).verdict())
                .isEqualTo(TC_ACT_SHOT);
          }
          return null;
        });
  }

  @ParameterizedTest
  @EnumSource(IpFamily.class)
  void aFullConntrackTableEvictsTheLeastRecentlyUsed(IpFamily family) throws Exception {
    Pods p = PODS.get(family);
    inNamespace(
        () -> {
          try (Datapath d = load("full", family, Map.of(ct(family), 64))) {
            for (int port = 1; port <= 512; port++) {
              assertThat(
                      d.testRun("from_container", tcp(p.a(), port, p.b(), 8000), LO, 0).verdict())
                  .isEqualTo(TC_ACT_REDIRECT);
            }
            BpfMap ct = d.map(ct(family));
            assertThat(ct.keys().size()).isLessThanOrEqualTo(64);
            // The oldest connection is gone: its reply now counts as a new connection to p.a(),
            // which
            // p.a()'s ingress policy does not allow. The newest is still tracked.
            assertThat(d.testRun("from_overlay", ack(p.b(), 8000, p.a(), 1), LO, 0).verdict())
                .isEqualTo(TC_ACT_SHOT);
            assertThat(d.testRun("from_overlay", ack(p.b(), 8000, p.a(), 512), LO, 0).verdict())
                .isEqualTo(TC_ACT_REDIRECT);
          }
          return null;
        });
  }

  /**
   * Opens connection {@code idle} from p.a() to p.b() and leaves it idle, then opens and closes
   * {@code churn} others (FIN both ways), collecting ended connections every 64 when {@code
   * collect}. True when p.b()'s next packet on the idle connection still passes: p.a()'s ingress
   * policy would refuse it as a new connection, so it passes only if its entry survived.
   */
  private static boolean idleSurvivesChurn(Pods p, Datapath d, int churn, boolean collect) {
    var gc =
        new ConntrackGc(
            d.map(ct(p.family())),
            new ConntrackGc.Lifetimes(Duration.ZERO, Duration.ofHours(1), Duration.ofHours(1)));
    int idle = 1;
    assertThat(d.testRun("from_container", tcp(p.a(), idle, p.b(), 8000), LO, 0).verdict())
        .isEqualTo(TC_ACT_REDIRECT);
    assertThat(d.testRun("from_overlay", ack(p.b(), 8000, p.a(), idle), LO, 0).verdict())
        .isEqualTo(TC_ACT_REDIRECT);
    for (int i = 0; i < churn; i++) {
      int port = 1000 + i;
      assertThat(d.testRun("from_container", tcp(p.a(), port, p.b(), 8000), LO, 0).verdict())
          .isEqualTo(TC_ACT_REDIRECT);
      d.testRun("from_container", tcp(p.a(), port, p.b(), 8000, 0x11), LO, 0); // FIN, ACK
      d.testRun("from_overlay", tcp(p.b(), 8000, p.a(), port, 0x11), LO, 0);
      if (collect && i % 64 == 63) {
        gc.collect(System.nanoTime());
      }
    }
    return d.testRun("from_overlay", ack(p.b(), 8000, p.a(), idle), LO, 0).verdict()
        == TC_ACT_REDIRECT;
  }

  @ParameterizedTest
  @EnumSource(IpFamily.class)
  void endedConnectionsAreCollectedSoAFullTableNeverEvictsAnIdleLiveOne(IpFamily family)
      throws Exception {
    Pods p = PODS.get(family);
    inNamespace(
        () -> {
          try (Datapath d = load("gc-off", family, Map.of(ct(family), 1024))) {
            // Without collection, 4 tables' worth of short connections evict the idle one.
            assertThat(idleSurvivesChurn(p, d, 4096, false)).isFalse();
          }
          try (Datapath d = load("gc-on", family, Map.of(ct(family), 1024))) {
            // p.a() FIN marks its connection as ending; a SYN on the same ports starts it again.
            d.testRun("from_container", tcp(p.a(), 7, p.b(), 8000), LO, 0);
            d.testRun("from_container", tcp(p.a(), 7, p.b(), 8000, 0x11), LO, 0);
            byte[] key = DatapathMaps.connectionKey(p.a(), 7, p.b(), 8000, TCP);
            assertThat(flags(d, family, key) & DatapathMaps.CT_CLOSING).isNotZero();
            d.testRun("from_container", tcp(p.a(), 7, p.b(), 8000), LO, 0);
            assertThat(flags(d, family, key) & DatapathMaps.CT_CLOSING).isZero();
            d.testRun("from_container", tcp(p.a(), 7, p.b(), 8000, 0x04), LO, 0); // RST
            assertThat(flags(d, family, key) & DatapathMaps.CT_CLOSING).isNotZero();

            assertThat(idleSurvivesChurn(p, d, 4096, true)).isTrue();
            // What is left: the idle connection, and what ended since the last collection.
            assertThat(d.map(ct(family)).keys().size()).isLessThanOrEqualTo(1 + 64);
            var r =
                new ConntrackGc(
                        d.map(ct(family)),
                        new ConntrackGc.Lifetimes(
                            Duration.ZERO, Duration.ofHours(1), Duration.ofHours(1)))
                    .collect(System.nanoTime());
            assertThat(r.removed()).isEqualTo(r.scanned() - 1);
            assertThat(d.map(ct(family)).keys())
                .singleElement()
                .satisfies(
                    k ->
                        assertThat(k)
                            .isEqualTo(DatapathMaps.connectionKey(p.a(), 1, p.b(), 8000, TCP)));
          }
          return null;
        });
  }

  private static int flags(Datapath d, IpFamily family, byte[] key) {
    byte[] v = d.map(ct(family)).get(key).orElseThrow();
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
                  bed.object(),
                  pins,
                  false,
                  List.of("10.96.0.0/16"),
                  "",
                  "eth0",
                  "ee:ee:ee:ee:ee:ee")) {
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
                    refused,
                    pins,
                    false,
                    List.of("10.96.0.0/16"),
                    "",
                    "eth0",
                    "ee:ee:ee:ee:ee:ee")) {
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
