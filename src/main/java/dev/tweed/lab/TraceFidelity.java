package dev.tweed.lab;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.datastore.Datastore;
import dev.tweed.datastore.Entry;
import dev.tweed.kernel.NetnsState;
import dev.tweed.kernel.Packet;
import dev.tweed.model.IpFamily;
import dev.tweed.model.NodeResource;
import dev.tweed.model.PodResource;
import dev.tweed.model.ResourceKey;
import dev.tweed.trace.Outcome;
import dev.tweed.trace.TraceWorld;
import dev.tweed.trace.Tracer;
import dev.tweed.trace.verify.JourneyCheck;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * The model against the kernel on random flows in a running lab: each flow is traced by the model,
 * sent for real with nftables tracing on (and, in an eBPF lab, the programs reporting their runs),
 * and the rule paths, program runs and verdicts compared.
 *
 * <p>A flow agrees when its packet's rule path and verdict are the kernel's. The reply of a
 * delivered flow is compared too and its differences reported apart.
 *
 * <p>Flows go from random pods to pods, Service ports (right and wrong ones), node ports, node
 * addresses, unallocated pod addresses and the router, over TCP and UDP, in every family of the lab
 * (a flow leaves from its pod's address of the target's family). Between flows the model re-reads
 * what flows change in the kernel: the {@code recent} lists of ClientIP affinity.
 */
public final class TraceFidelity {
  private static final Duration TIMEOUT = Duration.ofMillis(300);

  private TraceFidelity() {}

  /** One flow: from a pod's namespace, to an address and port. */
  public record Flow(String from, String fromNetns, Packet packet, boolean touchesAffinity) {
    @Override
    public String toString() {
      return from + " " + packet;
    }
  }

  public record Report(
      int flows,
      int agreed,
      Map<String, Integer> verdicts,
      Map<IpFamily, Integer> families,
      long rules,
      long programRuns,
      List<String> disagreements,
      double seconds,
      double modelSeconds,
      int retried,
      List<String> replyDisagreements) {
    /** The report in one line, as the bench and the tests print it. */
    public String summary() {
      return String.format(
          "%d/%d flows agree (%s), kernel verdicts %s, %d rules and %d program runs compared, %d"
              + " sent again (a chain rewritten under the packet), %.1f s",
          agreed,
          flows,
          families.entrySet().stream()
              .map(e -> e.getValue() + " " + e.getKey().apiName())
              .collect(Collectors.joining(", ")),
          verdicts,
          rules,
          programRuns,
          retried,
          seconds);
    }
  }

  private record Target(String ip, String proto, int port, boolean affinity) {}

  public static Report run(Lab lab, long seed, int count, PrintStream progress) throws Exception {
    long start = System.nanoTime();
    LabLayout layout = lab.layout();
    TraceWorld world;
    List<Flow> flows;
    try (Datastore store = LabStores.open(layout)) {
      world = LabCapture.world(layout, store);
      flows = flows(layout, store, seed, count);
    }
    Map<String, Integer> verdicts = new LinkedHashMap<>();
    Map<IpFamily, Integer> families = new TreeMap<>();
    flows.forEach(f -> families.merge(f.packet().family(), 1, Integer::sum));
    List<String> disagreements = new ArrayList<>();
    long rules = 0;
    long programRuns = 0;
    int agreed = 0;
    long modelNanos = 0;
    int retried = 0;
    List<String> replyDisagreements = new ArrayList<>();
    try (LabTraceVerifier verifier = LabTraceVerifier.start(layout, TIMEOUT)) {
      for (int i = 0; i < flows.size(); i++) {
        Flow f = flows.get(i);
        long t0 = System.nanoTime();
        Tracer tracer = new Tracer(world);
        List<Outcome> outcomes = tracer.fromLocalProcess(f.fromNetns(), f.packet());
        modelNanos += System.nanoTime() - t0;
        JourneyCheck.Result r =
            verifier.check(world, f.fromNetns(), f.packet(), outcomes, tracer::reply);
        verdicts.merge(r.kernelVerdict(), 1, Integer::sum);
        rules += r.rules();
        programRuns += r.programs();
        List<String> forward =
            r.differences().stream().filter(d -> !d.startsWith("reply: ")).toList();
        List<String> back = r.differences().stream().filter(d -> d.startsWith("reply: ")).toList();
        if (!back.isEmpty()) {
          replyDisagreements.add(f + ": " + String.join("; ", back));
        }
        if (forward.isEmpty()) {
          agreed++;
        } else {
          disagreements.add(f + ": " + String.join("; ", forward));
        }
        if (f.touchesAffinity()) {
          world = withFreshNodes(layout, world);
        }
        if ((i + 1) % 100 == 0) {
          progress.printf("  %d/%d flows, %d agree%n", i + 1, flows.size(), agreed);
        }
      }
      retried = verifier.resent();
    }
    return new Report(
        flows.size(),
        agreed,
        verdicts,
        families,
        rules,
        programRuns,
        List.copyOf(disagreements),
        (System.nanoTime() - start) / 1e9,
        modelNanos / 1e9,
        retried,
        List.copyOf(replyDisagreements));
  }

  /**
   * Waits until the store stops changing (the endpointslice controller follows pods) and every
   * agent has programmed the latest revision, so that the rules do not move under the flows.
   */
  public static void settle(Lab lab, int nodes) throws InterruptedException {
    try (Datastore store = LabStores.open(lab.layout())) {
      while (true) {
        long revision = store.currentRevision();
        lab.awaitPoliciesSynced(nodes, revision, Duration.ofSeconds(60));
        Thread.sleep(1500);
        if (store.currentRevision() == revision) {
          return;
        }
      }
    }
  }

  /**
   * The world with its node namespaces captured again (their xt_recent lists, or the eBPF
   * datapath's affinity map, changed).
   */
  private static TraceWorld withFreshNodes(LabLayout layout, TraceWorld world) {
    Map<String, NetnsState> states = new LinkedHashMap<>(world.namespaces());
    for (String ns : world.namespaces().keySet()) {
      if (world.label(ns).startsWith("node-")) {
        states.put(ns, LabCapture.capture(layout, ns));
      }
    }
    return new TraceWorld(states, world.labels());
  }

  static List<Flow> flows(LabLayout layout, Datastore store, long seed, int count) {
    List<PodResource> pods = new ArrayList<>();
    List<Target> targets = new ArrayList<>();
    for (Entry e : store.list(ResourceKey.kindPrefix(PodResource.KIND)).entries()) {
      PodResource p = PodResource.from(e.value());
      if (p.podIp().isEmpty()) {
        continue;
      }
      pods.add(p);
      for (String ip : p.podIps()) {
        for (int port : List.of(80, 8080, 9999)) {
          targets.add(new Target(ip, "tcp", port, false));
        }
        targets.add(new Target(ip, "udp", 53, false));
      }
    }
    List<String> nodeIps = new ArrayList<>();
    for (Entry e : store.list(ResourceKey.kindPrefix(NodeResource.KIND)).entries()) {
      nodeIps.addAll(NodeResource.from(e.value()).internalIps());
    }
    for (Entry e : store.list(ResourceKey.kindPrefix("Service")).entries()) {
      JsonNode spec = e.value().path("spec");
      boolean affinity = spec.path("sessionAffinity").asText().equals("ClientIP");
      List<String> clusterIps = new ArrayList<>();
      spec.path("clusterIPs").forEach(ip -> clusterIps.add(ip.asText()));
      if (clusterIps.isEmpty()) {
        clusterIps.add(spec.path("clusterIP").asText());
      }
      for (String ip : clusterIps) {
        IpFamily family = IpFamily.of(ip);
        for (JsonNode port : spec.path("ports")) {
          String proto = port.path("protocol").asText("TCP").toLowerCase(Locale.ROOT);
          targets.add(new Target(ip, proto, port.path("port").asInt(), affinity));
          if (port.has("nodePort")) {
            for (String node : nodeIps) {
              if (IpFamily.of(node) == family) {
                targets.add(new Target(node, proto, port.path("nodePort").asInt(), affinity));
              }
            }
          }
        }
        targets.add(new Target(ip, "tcp", 9999, false));
      }
    }
    for (String node : nodeIps) {
      targets.add(new Target(node, "tcp", 22, false));
    }
    targets.add(new Target("10.244.0.50", "tcp", 80, false));
    targets.add(new Target(LabLayout.ROUTER_IP, "udp", 53, false));
    if (pods.stream().anyMatch(p -> p.podIp(IpFamily.IPV6).isPresent())) {
      targets.add(new Target("fd00:10:244::32", "tcp", 80, false));
      targets.add(new Target(LabLayout.ROUTER_IP6, "udp", 53, false));
    }
    Random rnd = new Random(seed);
    List<Flow> flows = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      PodResource from = pods.get(rnd.nextInt(pods.size()));
      Target t = targets.get(rnd.nextInt(targets.size()));
      String proto = rnd.nextInt(8) == 0 ? (t.proto().equals("tcp") ? "udp" : "tcp") : t.proto();
      // From the pod's address of the target's family (every pod has one of each in a dual lab).
      String src = from.podIp(IpFamily.of(t.ip())).orElse(from.podIp().get());
      flows.add(
          new Flow(
              from.qualifiedName(),
              layout.netnsOf(from),
              Packet.of(src, t.ip(), proto, 40000 + i % 20000, t.port()),
              t.affinity()));
    }
    return flows;
  }
}
