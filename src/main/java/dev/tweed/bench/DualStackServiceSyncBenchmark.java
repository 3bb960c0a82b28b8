package dev.tweed.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tweed.calc.CalculationGraph;
import dev.tweed.dataplane.IptablesWriter;
import dev.tweed.dataplane.NftablesWriter;
import dev.tweed.datastore.ResourceUpdate;
import dev.tweed.lab.Namespaces;
import dev.tweed.model.IpAddress;
import dev.tweed.model.IpFamily;
import dev.tweed.model.ProxyMode;
import dev.tweed.proxy.IptablesServiceRenderer;
import dev.tweed.proxy.NftablesServiceRenderer;
import dev.tweed.proxy.ProxyNode;
import dev.tweed.sys.NetworkNamespace;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One endpoint change at N dual-stack Services against N single-stack ones, in one run and one
 * scratch namespace each, the agent's way: the calculation graph with a Service index per family,
 * and a proxier per family (iptables and ip6tables, or the {@code ip} and {@code ip6} nftables
 * tables written by netlink) that syncs what its index drained. A dual-stack change touches one
 * family's slice: the other proxier finds nothing to write.
 */
public final class DualStackServiceSyncBenchmark {
  private static final int CHANGES = 21;
  private final PrintStream out;
  private final ProxyMode mode;

  public DualStackServiceSyncBenchmark(PrintStream out, ProxyMode mode) {
    this.out = out;
    this.mode = mode;
  }

  /** Median milliseconds of one change, single-stack and dual-stack. */
  public record Result(int services, double singleMs, double dualMs) {
    public double ratio() {
      return dualMs / singleMs;
    }
  }

  /**
   * {@code rounds} rounds, single-stack and dual-stack in alternation (so that a slow spell of the
   * machine falls on both), each a median of its changes; the result is the rounds' medians.
   */
  public Result run(int services, int endpoints, int rounds) throws Exception {
    List<Double> singles = new ArrayList<>();
    List<Double> duals = new ArrayList<>();
    for (int round = 0; round < rounds; round++) {
      singles.add(measure(services, endpoints, List.of(IpFamily.IPV4)));
      duals.add(measure(services, endpoints, List.of(IpFamily.IPV4, IpFamily.IPV6)));
      out.printf(
          "round %d: single-stack %.2f ms, dual-stack %.2f ms%n",
          round + 1, singles.getLast(), duals.getLast());
    }
    double single = Stats.of(singles).median();
    double dual = Stats.of(duals).median();
    Result r = new Result(services, single, dual);
    out.printf(
        "%s, %d Services x %d endpoints: one endpoint change, single-stack %.2f ms, dual-stack"
            + " %.2f ms (ratio %.2fx)%n",
        mode.id(), services, endpoints, single, dual, r.ratio());
    return r;
  }

  private double measure(int n, int endpoints, List<IpFamily> families) throws Exception {
    String ns = "tw-bench-ds-" + families.size();
    Namespaces.delete(ns);
    Namespaces.add(ns);
    try {
      return NetworkNamespace.call(
          NetworkNamespace.pathOf(ns), () -> measureHere(n, endpoints, families));
    } finally {
      Namespaces.delete(ns);
    }
  }

  /** One family's proxier: what its index drained, rendered and written. */
  private interface Proxier {
    void sync(CalculationGraph graph, boolean full);
  }

  private record Iptables(IpFamily family, IptablesServiceRenderer renderer, IptablesWriter writer)
      implements Proxier {
    public void sync(CalculationGraph graph, boolean full) {
      var u = renderer.update(graph.servicePorts(family).drainChanges());
      if (full) {
        writer.apply(u.ruleset());
      } else if (!u.changes().isEmpty()) {
        writer.sync(u.ruleset(), u.changes(), false);
      }
    }
  }

  private record Nftables(IpFamily family, NftablesServiceRenderer renderer, NftablesWriter writer)
      implements Proxier {
    public void sync(CalculationGraph graph, boolean full) {
      var u = renderer.update(graph.servicePorts(family).drainChanges());
      if (full || !u.changes().isEmpty()) {
        writer.sync(u.ruleset(), u.changes(), full);
      }
    }
  }

  private double measureHere(int n, int endpoints, List<IpFamily> families) {
    CalculationGraph graph = new CalculationGraph("bench-node", true, false, Set.copyOf(families));
    List<ResourceUpdate> all = new ArrayList<>();
    for (int s = 0; s < n; s++) {
      all.add(update("Service", service(s, families)));
      for (IpFamily f : families) {
        all.add(update("EndpointSlice", slice(s, endpoints, 0, f)));
      }
    }
    graph.apply(all);
    Map<IpFamily, Proxier> proxiers = new LinkedHashMap<>();
    for (IpFamily f : families) {
      ProxyNode node =
          new ProxyNode(
              "bench-node", f == IpFamily.IPV4 ? "10.244.0.0/16" : "fd00:10:244::/56", List.of());
      String serviceCidr = f == IpFamily.IPV4 ? "10.96.0.0/16" : "fd00:10:96::/112";
      proxiers.put(
          f,
          switch (mode) {
            case IPTABLES ->
                new Iptables(f, new IptablesServiceRenderer(node), IptablesWriter.here(f));
            case NFTABLES ->
                new Nftables(
                    f,
                    new NftablesServiceRenderer(node, serviceCidr),
                    NftablesWriter.here().blocksStandAlone());
          });
    }
    proxiers.values().forEach(p -> p.sync(graph, true));
    List<Double> ms = new ArrayList<>();
    for (int i = 0; i < 2 * CHANGES; i++) {
      // The last Service's slice of one family (in turn) loses its first endpoint, then gets it
      // back.
      IpFamily f = families.get((i / 2) % families.size());
      long c0 = System.nanoTime();
      graph.apply(List.of(update("EndpointSlice", slice(n - 1, endpoints, i % 2 == 0 ? 1 : 0, f))));
      proxiers.values().forEach(p -> p.sync(graph, false));
      if (i >= CHANGES) {
        ms.add((System.nanoTime() - c0) / 1e6);
      }
    }
    return Stats.of(ms).median();
  }

  private static ResourceUpdate update(String kind, JsonNode value) {
    return EbpfServiceSyncBenchmark.update(kind, value);
  }

  private static JsonNode service(int s, List<IpFamily> families) {
    ObjectNode svc = (ObjectNode) EbpfServiceSyncBenchmark.service(s);
    if (families.size() == 2) {
      ObjectNode spec = svc.withObject("spec");
      spec.put("ipFamilyPolicy", "RequireDualStack");
      spec.putArray("ipFamilies").add("IPv4").add("IPv6");
      spec.putArray("clusterIPs")
          .add(spec.path("clusterIP").asText())
          .add(IpAddress.parse("fd00:10:96::").plus(10 + s).toString());
    }
    return svc;
  }

  private static JsonNode slice(int s, int m, int without, IpFamily f) {
    ObjectNode slice = (ObjectNode) EbpfServiceSyncBenchmark.slice(s, m, without);
    if (f == IpFamily.IPV6) {
      slice.put("addressType", "IPv6");
      slice.withObject("metadata").put("name", "svc-" + s + "-6");
      for (JsonNode ep : slice.path("endpoints")) {
        ObjectNode e = (ObjectNode) ep;
        String v4 = e.path("addresses").get(0).asText();
        e.putArray("addresses")
            .add(
                IpAddress.parse("fd00:10:244::")
                    .plus(IpAddress.parse(v4).v4() & 0xffff)
                    .toString());
      }
    }
    return slice;
  }
}
