package dev.tweed.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tweed.calc.CalculationGraph;
import dev.tweed.datastore.ResourceUpdate;
import dev.tweed.ebpf.Datapath;
import dev.tweed.ebpf.LbMapWriter;
import dev.tweed.ebpf.LbService;
import dev.tweed.ebpf.ServiceLbCalculator;
import dev.tweed.model.Ipv4;
import dev.tweed.model.Json;
import dev.tweed.proxy.ProxyNode;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The Services benchmark's eBPF mode. The agent's own path from a datastore event to the maps: the
 * calculation graph takes the changed EndpointSlice, Service ports are resolved again where their
 * objects changed, the load-balancing calculator gives the services, and the writer writes the
 * difference through {@code bpf(2)} (Tweed's share is everything but the {@code bpf(2)} calls). New
 * connections come from a client namespace through {@code from_container}, attached to its veth in
 * the node namespace, to backends served on the node's loopback addresses. The bpffs is the
 * benchmark's own, unmounted at the end.
 */
final class EbpfServiceSyncBenchmark {
  private static final String NODE_SIDE = BenchDatapath.NODE_SIDE;
  private static final int CHANGES = 21;

  private EbpfServiceSyncBenchmark() {}

  /** Progress lines go to {@code log} (standard error when standard output carries JSON). */
  static ServiceSyncBenchmark.Result measure(
      String ns, int n, int endpoints, int connections, PrintStream log) throws Exception {
    try (BenchDatapath bench = new BenchDatapath(ns)) {
      return sync(bench.datapath, ns, bench.client, n, endpoints, connections, log);
    }
  }

  private static ServiceSyncBenchmark.Result sync(
      Datapath d, String ns, String client, int n, int endpoints, int connections, PrintStream log)
      throws Exception {
    CalculationGraph graph = new CalculationGraph("bench-node");
    List<ResourceUpdate> all = new ArrayList<>();
    for (int s = 0; s < n; s++) {
      all.add(update("Service", service(s)));
      all.add(update("EndpointSlice", slice(s, endpoints, 0)));
    }
    graph.apply(all);
    ServiceLbCalculator calc =
        new ServiceLbCalculator(new ProxyNode("bench-node", "10.244.0.0/16", List.of(NODE_SIDE)));
    LbMapWriter writer = new LbMapWriter(d);

    long t0 = System.nanoTime();
    calc.update(graph.servicePorts().drainChanges());
    Map<String, LbService> services = calc.services();
    LbMapWriter.Result full = writer.write(services, true);
    long t2 = System.nanoTime();
    // Tweed's share: everything but the bpf(2) calls (the writer's encoding and diff included).
    long t1 = t2 - full.kernelNanos();

    List<Double> total = new ArrayList<>();
    List<Double> kernel = new ArrayList<>();
    int writes = 0;
    for (int i = 0; i < CHANGES; i++) {
      // The last service loses its first endpoint, then gets it back.
      ResourceUpdate change = update("EndpointSlice", slice(n - 1, endpoints, i % 2 == 0 ? 1 : 0));
      long c0 = System.nanoTime();
      graph.apply(List.of(change));
      var changes = calc.update(graph.servicePorts().drainChanges());
      LbMapWriter.Result r = writer.writeChanges(changes, calc.services());
      long c2 = System.nanoTime();
      long c1 = c2 - r.kernelNanos();
      total.add((c2 - c0) / 1e6);
      kernel.add((c2 - c1) / 1e6);
      writes = Math.max(writes, r.written() + r.removed());
      if (r.services() != 1) {
        throw new IllegalStateException(
            "one endpoint change touched " + r.services() + " services");
      }
    }
    log.printf(
        "ebpf     N=%-6d one endpoint changed: %d map writes at most; median of %d changes%n",
        n, writes, CHANGES);
    String lastIp = service(n - 1).path("spec").path("clusterIP").asText();
    Stats first = ServiceSyncBenchmark.firstConnections(client, lastIp, connections);
    return new ServiceSyncBenchmark.Result(
        n,
        endpoints,
        (t1 - t0) / 1e6,
        (t2 - t1) / 1e6,
        Stats.of(total).median(),
        Stats.of(kernel).median(),
        null,
        null,
        null,
        first);
  }

  static ResourceUpdate update(String kind, JsonNode value) {
    String key =
        kind
            + "/"
            + value.path("metadata").path("namespace").asText()
            + "/"
            + value.path("metadata").path("name").asText();
    return ResourceUpdate.put(key, value);
  }

  static JsonNode service(int s) {
    ObjectNode svc = Json.object();
    svc.put("kind", "Service");
    svc.putObject("metadata").put("namespace", "bench").put("name", "svc-" + s);
    ObjectNode spec = svc.putObject("spec");
    spec.put("clusterIP", Ipv4.format(Ipv4.parse("10.96.0.0") + 10 + s));
    spec.putArray("ports").addObject().put("name", "http").put("port", 80).put("protocol", "TCP");
    return svc;
  }

  /** Service s's slice with endpoints 1..m, less endpoint {@code without} (0: none). */
  static JsonNode slice(int s, int m, int without) {
    ObjectNode slice = Json.object();
    slice.put("kind", "EndpointSlice").put("addressType", "IPv4");
    ObjectNode meta =
        slice.putObject("metadata").put("namespace", "bench").put("name", "svc-" + s + "-1");
    meta.putObject("labels").put("kubernetes.io/service-name", "svc-" + s);
    var eps = slice.putArray("endpoints");
    for (int e = 1; e <= m; e++) {
      if (e != without) {
        ObjectNode ep = eps.addObject();
        ep.putArray("addresses").add(ServiceSyncBenchmark.backend(e));
        ep.putObject("conditions").put("ready", true);
        ep.put("nodeName", "bench-node");
      }
    }
    slice.putArray("ports").addObject().put("name", "http").put("port", 80).put("protocol", "TCP");
    return slice;
  }
}
