package dev.tweed.bench;

import dev.tweed.calc.CalculationGraph;
import dev.tweed.dataplane.IptablesWriter;
import dev.tweed.dataplane.NftablesWriter;
import dev.tweed.datastore.ResourceUpdate;
import dev.tweed.lab.Namespaces;
import dev.tweed.lab.ProbeServer;
import dev.tweed.model.Dataplane;
import dev.tweed.model.Ipv4;
import dev.tweed.proxy.IptablesServiceRenderer;
import dev.tweed.proxy.NftablesServiceRenderer;
import dev.tweed.proxy.ProxyNode;
import dev.tweed.proxy.RulesetUpdate;
import dev.tweed.proxy.ServicePort;
import dev.tweed.rules.BlockChange;
import dev.tweed.sys.NetworkNamespace;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.BiFunction;
import java.util.function.Function;

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
      Double wholePathMs,
      Double wholePathRestoreMs,
      Double fullCompareMs,
      Stats firstConnection) {
    public double tweedShare() {
      return renderMs / (renderMs + restoreMs);
    }

    /** One endpoint changed: Tweed's own milliseconds (render, diff, the write's input). */
    public double partialTweedMs() {
      return partialMs - partialRestoreMs;
    }

    /**
     * The same change by the whole-ruleset path (every port rendered and compared), in the rule
     * modes; null in eBPF mode, which has no such path.
     */
    public Double wholePathTweedMs() {
      return wholePathMs == null ? null : wholePathMs - wholePathRestoreMs;
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
              // The agent writes from inside its namespace: so does the benchmark, on one thread,
              // rather than entering the namespace for every write.
              case NFTABLES ->
                  NetworkNamespace.call(
                      NetworkNamespace.pathOf(ns),
                      () -> measureRules(ns, nftables(), n, endpoints, connections));
              case EBPF -> EbpfServiceSyncBenchmark.measure(ns, n, endpoints, connections, out);
              case IPTABLES ->
                  measureRules(ns, iptables(iptablesWriter(ns, n)), n, endpoints, connections);
            });
        Result r = results.getLast();
        out.printf(
            "%-8s N=%-6d full sync %8.1f ms (tweed %6.1f ms = %4.1f%%, kernel apply %8.1f ms); "
                + "one endpoint changed: %6.2f ms (kernel apply %6.2f ms, tweed %5.2f ms%s);"
                + "%s first connection median %.3f ms p99 %.3f ms%n",
            mode.id(),
            n,
            r.renderMs() + r.restoreMs(),
            r.renderMs(),
            100 * r.tweedShare(),
            r.restoreMs(),
            r.partialMs(),
            r.partialRestoreMs(),
            r.partialTweedMs(),
            r.wholePathTweedMs() == null
                ? ""
                : String.format("; whole-ruleset path tweed %.2f ms", r.wholePathTweedMs()),
            r.fullCompareMs() == null
                ? ""
                : String.format(" full comparison with the kernel %.0f ms;", r.fullCompareMs()),
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

  /** A rule-based proxy as the agent drives it, and the same proxy driven whole. */
  private interface RuleProxy {
    /** Renders and writes the Services that changed, their blocks alone. */
    IptablesWriter.SyncStats changed(Map<String, List<ServicePort>> changes);

    /** Renders every port and lets the writer compare every block (the whole-ruleset path). */
    IptablesWriter.SyncStats whole(List<ServicePort> all);

    /** A full comparison with the kernel, as a drift check that found the ruleset moved runs. */
    IptablesWriter.SyncStats compare();
  }

  /** A writer's sync told the changed blocks, as the agent calls it. */
  private interface SyncChanges<S, R> {
    IptablesWriter.SyncStats sync(S ruleset, List<BlockChange<R>> changes, boolean full);
  }

  /** A renderer and its writer, driven as the agent drives them or whole. */
  private static <S, R> RuleProxy ruleProxy(
      Function<Map<String, List<ServicePort>>, RulesetUpdate<S, R>> update,
      Function<List<ServicePort>, S> render,
      SyncChanges<S, R> syncChanges,
      BiFunction<S, Boolean, IptablesWriter.SyncStats> sync) {
    return new RuleProxy() {
      public IptablesWriter.SyncStats changed(Map<String, List<ServicePort>> changes) {
        var u = update.apply(changes);
        return syncChanges.sync(u.ruleset(), u.changes(), false);
      }

      public IptablesWriter.SyncStats whole(List<ServicePort> all) {
        return sync.apply(render.apply(all), false);
      }

      public IptablesWriter.SyncStats compare() {
        return sync.apply(update.apply(Map.of()).ruleset(), true);
      }
    };
  }

  /** The proxy's nftables table written in the calling thread's namespace, as the agent writes. */
  private static RuleProxy nftables() {
    var renderer =
        new NftablesServiceRenderer(
            new ProxyNode("bench-node", "10.244.0.0/16", List.of()), "10.96.0.0/16");
    var writer = NftablesWriter.here().blocksStandAlone();
    return ruleProxy(renderer::update, renderer::render, writer::sync, writer::sync);
  }

  private static RuleProxy iptables(IptablesWriter writer) {
    var renderer =
        new IptablesServiceRenderer(new ProxyNode("bench-node", "10.244.0.0/16", List.of()));
    return ruleProxy(renderer::update, renderer::render, writer::sync, writer::sync);
  }

  /**
   * iptables in {@code ns}; above {@link #LEGACY_ABOVE} services through iptables-legacy, whose
   * restore replaces a table as one blob: iptables-nft 1.8.9 does not finish a 10,000-service
   * restore in minutes, and the figure wanted there is Tweed's share, which is the same code.
   */
  private static IptablesWriter iptablesWriter(String ns, int n) throws Exception {
    if (n <= LEGACY_ABOVE) {
      return IptablesWriter.inNamespace(ns);
    }
    Path bin = Files.createTempDirectory("tw-bench-legacy");
    bin.toFile().deleteOnExit();
    for (String tool : List.of("iptables", "iptables-save", "iptables-restore")) {
      Path link = bin.resolve(tool);
      Files.createSymbolicLink(
          link, Path.of("/usr/sbin/" + tool.replace("iptables", "iptables-legacy")));
      link.toFile().deleteOnExit();
    }
    return new IptablesWriter(
        List.of(
            "ip",
            "netns",
            "exec",
            ns,
            "env",
            "PATH=" + bin + ":" + System.getenv().getOrDefault("PATH", "/usr/sbin:/usr/bin")));
  }

  static final int LEGACY_ABOVE = 2_000;

  /** Changes timed (the median is reported), after as many untimed ones to warm the JIT. */
  private static final int CHANGES = 21;

  /**
   * The agent's way: Services and slices into the calculation graph, then a full sync; then one
   * endpoint of the last Service changed, from the slice update to the rules written, against the
   * same change by the whole-ruleset path, alternately.
   */
  private static Result measureRules(
      String ns, RuleProxy proxy, int n, int endpoints, int connections) throws Exception {
    CalculationGraph graph = new CalculationGraph("bench-node");
    List<ResourceUpdate> all = new ArrayList<>();
    for (int s = 0; s < n; s++) {
      all.add(EbpfServiceSyncBenchmark.update("Service", EbpfServiceSyncBenchmark.service(s)));
      all.add(
          EbpfServiceSyncBenchmark.update(
              "EndpointSlice", EbpfServiceSyncBenchmark.slice(s, endpoints, 0)));
    }
    graph.apply(all);
    long t0 = System.nanoTime();
    IptablesWriter.SyncStats full = proxy.changed(graph.servicePorts().drainChanges());
    long t2 = System.nanoTime();
    long t1 = t2 - full.restoreNanos();
    List<Double> total = new ArrayList<>();
    List<Double> kernel = new ArrayList<>();
    List<Double> wholeTotal = new ArrayList<>();
    List<Double> wholeKernel = new ArrayList<>();
    for (int i = 0; i < 2 * CHANGES; i++) {
      // The last Service loses its first endpoint, then gets it back: once each way.
      ResourceUpdate change =
          EbpfServiceSyncBenchmark.update(
              "EndpointSlice",
              EbpfServiceSyncBenchmark.slice(n - 1, endpoints, i % 2 == 0 ? 1 : 0));
      long c0 = System.nanoTime();
      graph.apply(List.of(change));
      IptablesWriter.SyncStats st;
      boolean whole = (i / 2) % 2 == 1;
      if (whole) {
        List<ServicePort> ports = graph.servicePorts().ports();
        graph.servicePorts().drainChanges();
        st = proxy.whole(ports);
      } else {
        st = proxy.changed(graph.servicePorts().drainChanges());
      }
      long c1 = System.nanoTime();
      if (i < CHANGES) {
        continue; // warming up
      }
      (whole ? wholeTotal : total).add((c1 - c0) / 1e6);
      (whole ? wholeKernel : kernel).add(st.restoreNanos() / 1e6);
    }
    // Two comparisons: the first after a write reads the kernel's normal form as the reference.
    proxy.compare();
    long f0 = System.nanoTime();
    proxy.compare();
    double compareMs = (System.nanoTime() - f0) / 1e6;
    String lastIp = EbpfServiceSyncBenchmark.service(n - 1).path("spec").path("clusterIP").asText();
    return new Result(
        n,
        endpoints,
        (t1 - t0) / 1e6,
        (t2 - t1) / 1e6,
        Stats.of(total).median(),
        Stats.of(kernel).median(),
        Stats.of(wholeTotal).median(),
        Stats.of(wholeKernel).median(),
        compareMs,
        firstConnections(ns, lastIp, connections));
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
}
