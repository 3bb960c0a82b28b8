package dev.tweed.bench;

import dev.tweed.dataplane.IptablesWriter;
import dev.tweed.dataplane.NftablesWriter;
import dev.tweed.lab.Namespaces;
import dev.tweed.lab.ProbeServer;
import dev.tweed.model.Dataplane;
import dev.tweed.model.Ipv4;
import dev.tweed.proxy.IptablesRuleset;
import dev.tweed.proxy.IptablesServiceRenderer;
import dev.tweed.proxy.NftablesServiceRenderer;
import dev.tweed.proxy.ProxyNode;
import dev.tweed.proxy.ServicePort;
import dev.tweed.sys.NetworkNamespace;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Service sync cost at scale, in iptables, nftables or eBPF mode (the last in {@link
 * EbpfServiceSyncBenchmark}). iptables mode: (a) a full sync of N services with M endpoints each,
 * split into Tweed's share (rendering) and the kernel's (iptables-restore); (b) a partial sync
 * after one endpoint of one service changes; (c) the latency of new connections to the last
 * service, whose rule sits at the end of KUBE-SERVICES. It runs in a scratch namespace with M local
 * backend addresses served by a probe server, so that no agent resyncs over it.
 */
public final class ServiceSyncBenchmark {
  private final PrintStream out;

  public ServiceSyncBenchmark(PrintStream out) {
    this.out = out;
  }

  /** Figures for one N. */
  public record Result(
      int services,
      int endpointsPerService,
      double renderMs,
      double restoreMs,
      double partialMs,
      double partialRestoreMs,
      Stats firstConnection) {
    public double tweedShare() {
      return renderMs / (renderMs + restoreMs);
    }
  }

  public List<Result> run(List<Integer> counts, int endpoints, int connections) throws Exception {
    return run(counts, endpoints, connections, Dataplane.IPTABLES);
  }

  /** Runs every count in one dataplane. */
  public List<Result> run(List<Integer> counts, int endpoints, int connections, Dataplane mode)
      throws Exception {
    List<Result> results = new ArrayList<>();
    for (int n : counts) {
      String ns = "tw-bench-svc" + n;
      Namespaces.delete(ns);
      Namespaces.add(ns);
      try (ProbeServer server = backends(ns, endpoints)) {
        results.add(
            switch (mode) {
              case NFTABLES -> measureNftables(ns, n, endpoints, connections);
              case EBPF -> EbpfServiceSyncBenchmark.measure(ns, n, endpoints, connections);
              case IPTABLES -> measure(ns, n, endpoints, connections);
            });
        Result r = results.getLast();
        out.printf(
            "%-8s N=%-6d full sync %8.1f ms (tweed %6.1f ms = %4.1f%%, kernel apply %8.1f ms); "
                + "one endpoint changed: %6.2f ms (kernel apply %6.2f ms); first connection median %.3f ms p99 %.3f ms%n",
            mode.id(),
            n,
            r.renderMs() + r.restoreMs(),
            r.renderMs(),
            100 * r.tweedShare(),
            r.restoreMs(),
            r.partialMs(),
            r.partialRestoreMs(),
            r.firstConnection().median(),
            r.firstConnection().p99());
      } finally {
        Namespaces.delete(ns);
      }
    }
    return results;
  }

  private static ProbeServer backends(String ns, int endpoints) throws Exception {
    // Locally sent packets are routed before nat OUTPUT rewrites them: the service range needs a
    // route out of some interface, here one end of a veth pair that never carries the traffic.
    List<String> lines =
        new ArrayList<>(
            List.of(
                "link set lo up",
                "link add bench0 type veth peer name bench1",
                "link set bench0 up",
                "link set bench1 up",
                "addr add 10.255.255.1/30 dev bench0",
                "route add 10.96.0.0/16 dev bench0"));
    for (int i = 1; i <= endpoints; i++) {
      lines.add("addr add " + backend(i) + "/32 dev lo");
    }
    Namespaces.batch(ns, lines);
    return new ProbeServer(
        NetworkNamespace.pathOf(ns), "backend", List.of(new ProbeServer.Port(80, "TCP")));
  }

  static String backend(int i) {
    return Ipv4.format(Ipv4.parse("10.250.0.0") + i);
  }

  /**
   * N services with M endpoints each; optionally the last one loses endpoint number {@code drop}.
   */
  public static List<ServicePort> services(int n, int endpoints, int dropEndpointOfLast) {
    List<ServicePort> out = new ArrayList<>(n);
    int base = Ipv4.parse("10.96.0.0");
    for (int s = 0; s < n; s++) {
      List<ServicePort.Endpoint> eps = new ArrayList<>(endpoints);
      for (int e = 1; e <= endpoints; e++) {
        if (s == n - 1 && e == dropEndpointOfLast) {
          continue;
        }
        eps.add(new ServicePort.Endpoint(backend(e), 80, Optional.of("bench-node")));
      }
      out.add(
          ServicePort.clusterIp(
              "bench", "svc-" + s, "http", "TCP", Ipv4.format(base + 10 + s), 80, eps));
    }
    return out;
  }

  private Result measureNftables(String ns, int n, int endpoints, int connections)
      throws Exception {
    var renderer =
        new NftablesServiceRenderer(
            new ProxyNode("bench-node", "10.244.0.0/16", List.of()), "10.96.0.0/16");
    var writer = NftablesWriter.inNamespace(ns, false);
    List<ServicePort> all = services(n, endpoints, 0);
    long t0 = System.nanoTime();
    var full = renderer.render(all);
    long t1 = System.nanoTime();
    IptablesWriter.SyncStats fullStats = writer.sync(full, true);
    long t2 = System.nanoTime();
    var next = renderer.render(services(n, endpoints, 1));
    IptablesWriter.SyncStats partialStats = writer.sync(next, false);
    long t3 = System.nanoTime();
    return new Result(
        n,
        endpoints,
        (t1 - t0) / 1e6,
        fullStats.restoreNanos() / 1e6,
        (t3 - t2) / 1e6,
        partialStats.restoreNanos() / 1e6,
        firstConnections(ns, all.getLast().clusterIp(), connections));
  }

  /**
   * New connections to {@code ip}:80, each timed from connect to answer, from one thread that
   * entered the namespace once, so the figure is the packet path's and not setns's. Each uses a
   * fresh source port, so conntrack misses and the first packet walks the rules.
   */
  /**
   * Connections made and not counted first: the client's own path (the JIT compiling the socket
   * calls) would otherwise make the first N measured look slower than the later ones.
   */
  private static final int WARM_UP_CONNECTIONS = 2000;

  static Stats firstConnections(String ns, String ip, int connections) throws Exception {
    return NetworkNamespace.call(
        NetworkNamespace.pathOf(ns),
        () -> {
          List<Double> samples = new ArrayList<>();
          for (int i = 0; i < connections + WARM_UP_CONNECTIONS; i++) {
            long start = System.nanoTime();
            try (Socket s = new Socket()) {
              s.connect(new InetSocketAddress(ip, 80), 5000);
              s.getInputStream().read();
            }
            if (i >= WARM_UP_CONNECTIONS) {
              samples.add((System.nanoTime() - start) / 1e6);
            }
          }
          return Stats.of(samples);
        });
  }

  private Result measure(String ns, int n, int endpoints, int connections) throws Exception {
    IptablesServiceRenderer renderer =
        new IptablesServiceRenderer(new ProxyNode("bench-node", "10.244.0.0/16", List.of()));
    List<ServicePort> all = services(n, endpoints, 0);
    long t0 = System.nanoTime();
    IptablesRuleset full = renderer.render(all);
    long t1 = System.nanoTime();
    IptablesWriter writer = IptablesWriter.inNamespace(ns);
    IptablesWriter.SyncStats fullStats = writer.sync(full, true);

    List<ServicePort> changed = services(n, endpoints, 1);
    long t2 = System.nanoTime();
    IptablesRuleset next = renderer.render(changed);
    IptablesWriter.SyncStats partialStats = writer.sync(next, false);
    long t3 = System.nanoTime();

    String lastIp = all.getLast().clusterIp();
    Stats first = firstConnections(ns, lastIp, connections);
    return new Result(
        n,
        endpoints,
        (t1 - t0) / 1e6,
        fullStats.restoreNanos() / 1e6,
        (t3 - t2) / 1e6,
        partialStats.restoreNanos() / 1e6,
        first);
  }
}
