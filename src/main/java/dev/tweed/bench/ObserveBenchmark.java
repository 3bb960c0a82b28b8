package dev.tweed.bench;

import dev.tweed.ebpf.Datapath;
import dev.tweed.ebpf.DatapathMaps;
import dev.tweed.ebpf.FlowEventReader;
import dev.tweed.lab.LabLayout;
import dev.tweed.lab.Namespaces;
import dev.tweed.lab.ProbeServer;
import dev.tweed.observe.FlowEnricher;
import dev.tweed.observe.FlowRing;
import dev.tweed.sys.NetworkNamespace;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What observing costs the eBPF datapath, and what it can take. A client namespace reaches a server
 * in a node namespace through {@code from_container}/{@code to_container} on its veth, the flow
 * events read by the agent's own reader, enricher and ring: new connections per second and iperf3
 * throughput with flow events on and off (alternated, medians); then the programs run in the kernel
 * as fast as it runs them (BPF_PROG_TEST_RUN with a repeat count) on a packet that is dropped, to
 * find how many flows a second the reader records and how many the ring buffer loses.
 */
public final class ObserveBenchmark {
  private static final String NODE_SIDE = BenchDatapath.NODE_SIDE;
  private final PrintStream out;

  public ObserveBenchmark(PrintStream out) {
    this.out = out;
  }

  public void run(int seconds, int rounds, int events) throws Exception {
    String ns = "tw-bench-obs";
    Namespaces.delete(ns);
    Namespaces.add(ns);
    try (BenchDatapath bench = new BenchDatapath(ns);
        ProbeServer server =
            new ProbeServer(
                NetworkNamespace.pathOf(ns), "server", List.of(new ProbeServer.Port(80, "TCP")))) {
      FlowRing ring = new FlowRing(8192);
      FlowEnricher enricher = new FlowEnricher("bench-node");
      AtomicLong recorded = new AtomicLong();
      try (FlowEventReader reader =
          new FlowEventReader(
              bench.datapath.eventsFd(),
              ev -> {
                ring.add(seq -> enricher.enrich(seq, ev));
                recorded.incrementAndGet();
              })) {
        overhead(bench, seconds, rounds);
        capacity(bench.datapath, ns, bench.veth, events, recorded);
      }
    } finally {
      Namespaces.delete(ns);
    }
  }

  private void overhead(BenchDatapath bench, int seconds, int rounds) throws Exception {
    ThroughputBenchmark iperf = new ThroughputBenchmark(LabLayout.of("bench"), out);
    List<Double> connOn = new ArrayList<>();
    List<Double> connOff = new ArrayList<>();
    List<Double> bpsOn = new ArrayList<>();
    List<Double> bpsOff = new ArrayList<>();
    // Untimed first: the client's own JIT would otherwise count against whichever runs first.
    connectionsPerSecond(bench.client, seconds);
    for (int r = 0; r < rounds; r++) {
      for (boolean on : new boolean[] {true, false}) {
        bench.config(on);
        (on ? connOn : connOff).add(connectionsPerSecond(bench.client, seconds));
        (on ? bpsOn : bpsOff).add(iperf.iperf(bench.node, NODE_SIDE, bench.client, seconds));
      }
    }
    bench.config(true);
    double con = Stats.of(connOn).median();
    double coff = Stats.of(connOff).median();
    double ton = Stats.of(bpsOn).median() / 1e9;
    double toff = Stats.of(bpsOff).median() / 1e9;
    out.printf(
        "new connections: %.0f/s with flow events, %.0f/s without (%.3fx); medians of %d%n",
        con, coff, con / coff, rounds);
    out.printf(
        "throughput (iperf3): %.2f Gbit/s with flow events, %.2f without (%.3fx)%n",
        ton, toff, ton / toff);
  }

  /** New TCP connections a second from one client thread, each connect, answer, close. */
  private static double connectionsPerSecond(String client, int seconds) throws Exception {
    return NetworkNamespace.call(
        NetworkNamespace.pathOf(client),
        () -> {
          long end = System.nanoTime() + seconds * 1_000_000_000L;
          long n = 0;
          long start = System.nanoTime();
          while (System.nanoTime() < end) {
            try (Socket s = new Socket()) {
              s.setSoLinger(true, 0); // no TIME_WAIT: the source ports last the whole run
              s.connect(new InetSocketAddress(NODE_SIDE, 80), 2000);
              s.getInputStream().read();
            }
            n++;
          }
          return n / ((System.nanoTime() - start) / 1e9);
        });
  }

  /**
   * A forged packet, dropped and reported on every run: events as fast as the kernel makes them.
   */
  private void capacity(Datapath d, String ns, int veth, int events, AtomicLong recorded)
      throws Exception {
    byte[] forged = forgedSyn();
    long lostBefore = lost(d);
    long recordedBefore = recorded.get();
    long start = System.nanoTime();
    NetworkNamespace.call(
        NetworkNamespace.pathOf(ns), () -> d.testRun("from_container", forged, veth, events, true));
    long produced = System.nanoTime();
    long lost = lost(d) - lostBefore;
    long expected = events - lost;
    while (recorded.get() - recordedBefore < expected && System.nanoTime() - produced < 30e9) {
      Thread.sleep(5);
    }
    long done = System.nanoTime();
    long got = recorded.get() - recordedBefore;
    out.printf(
        "flow events: %d produced in %.0f ms (%.2f M/s), %d recorded by the agent's reader in %.0f"
            + " ms (%.0f k flows/s), %d lost in the ring buffer (%.1f%%)%n",
        events,
        (produced - start) / 1e6,
        events / ((produced - start) / 1e9) / 1e6,
        got,
        (done - start) / 1e6,
        got / ((done - start) / 1e9) / 1e3,
        lost,
        100.0 * lost / events);
  }

  private static long lost(Datapath d) {
    int i = DatapathMaps.COUNT_NAMES.indexOf(DatapathMaps.EVENTS_LOST);
    return d.map(DatapathMaps.COUNTS)
        .get(DatapathMaps.index(i))
        .map(DatapathMaps::sumPerCpu)
        .orElse(0L);
  }

  /** A TCP SYN from an address no endpoint owns. */
  private static byte[] forgedSyn() {
    ByteBuffer b = ByteBuffer.allocate(14 + 20 + 20);
    b.put(new byte[] {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2}).putShort((short) 0x0800);
    b.put((byte) 0x45).put((byte) 0).putShort((short) 40).putInt(0);
    b.put((byte) 64).put((byte) 6).putShort((short) 0);
    b.put(new byte[] {10, (byte) 255, 9, 9}).put(new byte[] {10, (byte) 255, 0, 1});
    b.putShort((short) 40000).putShort((short) 80).putInt(1).putInt(0);
    b.put((byte) 0x50).put((byte) 0x02).putShort((short) 65535).putInt(0);
    return b.array();
  }
}
