package dev.tweed.bench;

import dev.tweed.ebpf.Datapath;
import dev.tweed.ebpf.DatapathMaps;
import dev.tweed.ebpf.EbpfIntent;
import dev.tweed.ebpf.Identities;
import dev.tweed.lab.Namespaces;
import dev.tweed.model.IpAddress;
import dev.tweed.model.IpFamily;
import dev.tweed.sys.NetworkNamespace;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * What a packet costs {@code from_container} in each family: the programs run in the kernel as fast
 * as it runs them (BPF_PROG_TEST_RUN with a repeat count) on a pod's packet of an established
 * connection to a pod on another node (endpoint, IP cache and conntrack lookups, the tunnel key,
 * the redirect), IPv4 and IPv6 alternated over rounds; the medians, and IPv6's against IPv4's
 * measured in the same run. The per-family maps keep an IPv4 packet's keys 4-byte ones: this is
 * what the IPv6 keys (16-byte addresses, a 40-byte conntrack key) cost on the same path.
 */
public final class DatapathPacketBenchmark {
  private static final Map<IpFamily, String[]> PODS =
      Map.of(
          IpFamily.IPV4,
          new String[] {"10.244.1.10", "10.244.2.20"},
          IpFamily.IPV6,
          new String[] {"fd00:10:244:1::a", "fd00:10:244:2::14"});

  private final PrintStream out;

  public DatapathPacketBenchmark(PrintStream out) {
    this.out = out;
  }

  /** Per-packet nanoseconds by family, medians of {@code rounds} runs of {@code packets}. */
  public Map<IpFamily, Double> run(int packets, int rounds) throws Exception {
    String ns = "tw-bench-pkt";
    Namespaces.delete(ns);
    Namespaces.add(ns);
    try (BenchDatapath bench = new BenchDatapath(ns)) {
      Datapath d = bench.datapath;
      int veth = bench.veth;
      for (var e : PODS.entrySet()) {
        String local = e.getValue()[0];
        String remote = e.getValue()[1];
        var ep =
            new EbpfIntent.Endpoint(
                local, "bench/a", "bench-h", "0a:00:00:00:00:0a", 2, 300, false, false);
        d.map(DatapathMaps.of(DatapathMaps.ENDPOINTS, e.getKey()))
            .put(
                DatapathMaps.endpointKey(local),
                DatapathMaps.endpointValue(ep, veth, "ee:ee:ee:ee:ee:ee"));
        ipcache(d, local, 300, "");
        ipcache(d, remote, 400, "172.31.0.12");
        String any = e.getKey() == IpFamily.IPV4 ? "0.0.0.0/0" : "::/0";
        d.map(DatapathMaps.of(DatapathMaps.IPCACHE, e.getKey()))
            .put(
                DatapathMaps.ipcacheKey(any),
                DatapathMaps.ipcacheValue(new EbpfIntent.IpcacheEntry(any, Identities.WORLD, "")));
      }
      // Flow events off: the path alone, not the ring buffer.
      bench.config(false);
      Map<IpFamily, List<Double>> ns4and6 = new EnumMap<>(IpFamily.class);
      for (IpFamily f : IpFamily.values()) {
        String[] p = PODS.get(f);
        // The connection's first packet creates its conntrack entry; the rest hit it.
        run(d, ns, veth, frame(p[0], 40000, p[1], 8080, 0x02), 1);
        run(d, ns, veth, frame(p[0], 40000, p[1], 8080, 0x10), packets / 10); // warm-up
        ns4and6.put(f, new ArrayList<>());
      }
      for (int r = 0; r < rounds; r++) {
        for (IpFamily f : IpFamily.values()) {
          String[] p = PODS.get(f);
          ns4and6.get(f).add(run(d, ns, veth, frame(p[0], 40000, p[1], 8080, 0x10), packets));
        }
      }
      Map<IpFamily, Double> medians = new EnumMap<>(IpFamily.class);
      ns4and6.forEach((f, v) -> medians.put(f, Stats.of(v).median()));
      out.printf(
          "from_container, an established connection to a pod on another node (VXLAN), %d packets"
              + " a run, medians of %d: IPv4 %.1f ns/packet, IPv6 %.1f ns/packet (%.2fx)%n",
          packets,
          rounds,
          medians.get(IpFamily.IPV4),
          medians.get(IpFamily.IPV6),
          medians.get(IpFamily.IPV6) / medians.get(IpFamily.IPV4));
      return medians;
    } finally {
      Namespaces.delete(ns);
    }
  }

  private static void ipcache(Datapath d, String ip, int identity, String tunnel) {
    String cidr = ip + "/" + IpFamily.of(ip).bits();
    d.map(DatapathMaps.of(DatapathMaps.IPCACHE, IpFamily.of(ip)))
        .put(
            DatapathMaps.ipcacheKey(cidr),
            DatapathMaps.ipcacheValue(new EbpfIntent.IpcacheEntry(cidr, identity, tunnel)));
  }

  /** Nanoseconds a packet over {@code repeat} runs in the kernel. */
  private static double run(Datapath d, String ns, int veth, byte[] frame, int repeat)
      throws Exception {
    long start = System.nanoTime();
    var r =
        NetworkNamespace.call(
            NetworkNamespace.pathOf(ns),
            () -> d.testRun("from_container", frame, veth, repeat, true));
    long elapsed = System.nanoTime() - start;
    if (r.verdict() != 7) {
      throw new IllegalStateException(
          "the packet was not redirected (verdict " + r.verdict() + ")");
    }
    return (double) elapsed / repeat;
  }

  /** A TCP frame of either family (checksums are not what this path reads). */
  static byte[] frame(String src, int sport, String dst, int dport, int flags) {
    IpAddress s = IpAddress.parse(src);
    IpAddress t = IpAddress.parse(dst);
    boolean v6 = s.family() == IpFamily.IPV6;
    ByteBuffer b = ByteBuffer.allocate(14 + (v6 ? 40 : 20) + 20);
    b.put(HexFormat.of().parseHex("eeeeeeeeeeee0a000000000a"))
        .putShort((short) (v6 ? 0x86dd : 0x0800));
    if (v6) {
      b.putInt(0x60000000).putShort((short) 20).put((byte) 6).put((byte) 64);
    } else {
      b.put((byte) 0x45).put((byte) 0).putShort((short) 40).putInt(0);
      b.put((byte) 64).put((byte) 6).putShort((short) 0);
    }
    b.put(s.bytes()).put(t.bytes());
    b.putShort((short) sport).putShort((short) dport).putInt(1).putInt(0);
    b.put((byte) 0x50).put((byte) flags).putShort((short) 65535).putInt(0);
    return b.array();
  }
}
