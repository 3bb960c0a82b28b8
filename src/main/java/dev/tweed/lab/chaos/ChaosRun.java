package dev.tweed.lab.chaos;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.datastore.Datastore;
import dev.tweed.lab.Lab;
import dev.tweed.lab.LabLayout;
import dev.tweed.lab.LabState;
import dev.tweed.lab.LabStores;
import dev.tweed.model.BgpConfiguration;
import dev.tweed.model.Json;
import dev.tweed.model.PodResource;
import dev.tweed.model.ResourceKey;
import dev.tweed.proxy.ServicePort;
import dev.tweed.proxy.ServicePortResolver;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;

/**
 * A soak: probes on every path between a set of pods (at most {@value #MAX_PODS}, spread over the
 * nodes) and from each of them through every ClusterIP Service with a backend, pods created and
 * deleted meanwhile, and one fault after another, each undone and recovered from before a quiet gap
 * and the next: the kinds in shuffled rounds (every kind once per round), targets and timings at
 * random from the seed. Then the invariants.
 */
public final class ChaosRun {
  static final int MAX_PODS = 8;

  /** How long after a fault recovered its probes still count as under it. */
  static final Duration GRACE = Duration.ofSeconds(2);

  /** The soak's settings; {@code probeTimeout} is how long a probe may take before it is lost. */
  public record Options(
      Duration duration,
      long seed,
      List<FaultKind> faults,
      Duration probePause,
      Duration probeTimeout) {
    public Options {
      faults = List.copyOf(faults);
      if (faults.isEmpty()) {
        throw new IllegalArgumentException("no faults to inject");
      }
    }
  }

  private final Lab lab;
  private final Options options;
  private final PrintStream progress;

  public ChaosRun(Lab lab, Options options, PrintStream progress) {
    this.lab = lab;
    this.options = options;
    this.progress = progress;
  }

  public ChaosReport run() throws Exception {
    LabLayout layout = lab.layout();
    LabState state =
        LabState.read(layout).orElseThrow(() -> new IllegalStateException("no lab is up"));
    for (FaultKind k : options.faults()) {
      k.unavailableIn(state)
          .ifPresent(
              why -> {
                throw new IllegalArgumentException(k.flag() + " cannot be injected here: " + why);
              });
    }
    Random random = new Random(options.seed());
    List<PodTarget> pods;
    List<ProbeMesh.Path> paths;
    Duration allowance;
    try (Datastore store = LabStores.open(layout, state)) {
      pods = meshPods(layout, store);
      paths = paths(pods, store);
      allowance = GRACE.plus(withdrawal(state, store));
    }
    if (pods.size() < 2) {
      throw new IllegalStateException(
          "chaos needs at least 2 running pods to probe between; the lab has " + pods.size());
    }
    progress.printf(
        "probing %d paths between %d pods (and through Services) every %d ms; faults: %s%n",
        paths.size(),
        pods.size(),
        options.probePause().toMillis(),
        String.join(",", options.faults().stream().map(FaultKind::flag).toList()));
    FaultInjector injector = new FaultInjector(lab, random, pods, allowance);
    List<Fault> faults = new ArrayList<>();
    long start = System.nanoTime();
    long end = start + options.duration().toNanos();
    ProbeMesh mesh = new ProbeMesh(paths, options.probePause(), options.probeTimeout());
    PodChurn churn = new PodChurn(layout, random, state.spec().nodes());
    // Only the eBPF datapath reports what it drops.
    DropWatch drops = state.spec().ebpf() ? new DropWatch(layout, state.spec().nodes()) : null;
    try {
      FaultInjector.sleep(quietGap(random));
      // Kinds come in shuffled rounds: random order, and every kind within each round.
      List<FaultKind> round = new ArrayList<>();
      while (System.nanoTime() < end) {
        if (round.isEmpty()) {
          round.addAll(options.faults());
          Collections.shuffle(round, random);
        }
        FaultKind kind = round.removeFirst();
        Fault f = injector.inject(kind);
        faults.add(f);
        progress.printf(
            "%6.1fs %-12s %-22s down %.1fs, recovered %.2fs later%n",
            (f.injectedNanos() - start) / 1e9,
            kind.flag(),
            f.target(),
            f.downSeconds(),
            f.recoverSeconds());
        FaultInjector.sleep(quietGap(random));
      }
    } finally {
      churn.close();
      mesh.close();
      if (drops != null) {
        drops.close();
      }
    }
    lab.awaitAgentsReady(state.spec().nodes());
    List<Invariants.Check> checks;
    try (Datastore store = LabStores.open(layout)) {
      awaitChurnGone(store);
      awaitAgentsCaughtUp(state.spec().nodes(), store.currentRevision());
      checks =
          Invariants.check(layout, LabState.read(layout).orElseThrow(), store, churn.deleted());
    }
    long window = options.probeTimeout().toNanos();
    List<ChaosReport.Attributed> lost =
        attribute(mesh.failures(), faults, window).stream()
            .map(
                a ->
                    drops == null
                        ? a
                        : a.withDrops(drops.near(a.failure(), options.probeTimeout())))
            .toList();
    Map<String, String> setup = new LinkedHashMap<>();
    setup.put("dataplane", state.spec().datapath().id());
    setup.put("proxy", state.spec().dataplane().id());
    setup.put("routing", state.spec().routing().id());
    setup.put("datastore", state.spec().datastore().id());
    return new ChaosReport(
        layout.name(),
        options.seed(),
        (System.nanoTime() - start) / 1e9,
        setup,
        paths.size(),
        mesh.sent(),
        faults,
        byKind(faults, lost, mesh, window),
        lost,
        churn.created(),
        churn.skipped().size(),
        checks,
        drops != null,
        start);
  }

  /**
   * Puts each failed probe down to the fault whose window it started in (from {@code windowBefore}
   * before the fault until {@link #GRACE} after its recovery), or to none, and says whether the
   * targets allow it: only under a link flap, only on a path that depends on the flapped node, and
   * only until the flap's allowance ends.
   */
  static List<ChaosReport.Attributed> attribute(
      List<ProbeMesh.Failure> failures, List<Fault> faults, long windowBefore) {
    List<ChaosReport.Attributed> out = new ArrayList<>();
    for (ProbeMesh.Failure x : failures) {
      Optional<Fault> under =
          faults.stream()
              .filter(
                  f ->
                      x.startNanos() >= f.injectedNanos() - windowBefore
                          && x.startNanos() <= f.recoveredNanos() + GRACE.toNanos())
              .findFirst();
      boolean allowed =
          under
              .filter(f -> f.node().isPresent())
              .map(
                  f ->
                      x.path().nodes().contains(f.node().get())
                          && x.startNanos() <= f.allowedUntilNanos())
              .orElse(false);
      out.add(new ChaosReport.Attributed(x, under, allowed, List.of()));
    }
    return out;
  }

  /** 5 to 10 s: longer than a probe's timeout and the grace, so faults' windows never overlap. */
  private static long quietGap(Random random) {
    return 5000 + random.nextInt(5000);
  }

  static List<ChaosReport.KindStats> byKind(
      List<Fault> faults, List<ChaosReport.Attributed> lost, ProbeMesh mesh, long windowBefore) {
    Map<FaultKind, List<Fault>> grouped = new TreeMap<>();
    faults.forEach(f -> grouped.computeIfAbsent(f.kind(), k -> new ArrayList<>()).add(f));
    List<ChaosReport.KindStats> out = new ArrayList<>();
    grouped.forEach(
        (kind, fs) -> {
          long sent = 0;
          for (Fault f : fs) {
            sent +=
                mesh.sentBetween(
                    f.injectedNanos() - windowBefore, f.recoveredNanos() + GRACE.toNanos());
          }
          List<ChaosReport.Attributed> under =
              lost.stream()
                  .filter(a -> a.fault().map(f -> f.kind() == kind).orElse(false))
                  .toList();
          out.add(
              new ChaosReport.KindStats(
                  kind.flag(),
                  fs.size(),
                  sent,
                  under.size(),
                  under.stream().filter(a -> !a.allowed()).count(),
                  fs.stream().mapToDouble(Fault::downSeconds).max().orElse(0),
                  fs.stream().mapToDouble(Fault::recoverSeconds).average().orElse(0),
                  fs.stream().mapToDouble(Fault::recoverSeconds).max().orElse(0)));
        });
    return out;
  }

  /**
   * How long a dead node's routes may linger elsewhere: BFD's detection time (or the hold time
   * without BFD) in a BGP lab; nothing to withdraw in a VXLAN one.
   */
  private static Duration withdrawal(LabState state, Datastore store) {
    if (!state.spec().bgp()) {
      return Duration.ZERO;
    }
    BgpConfiguration bgp =
        store
            .get(BgpConfiguration.defaults().key().toString())
            .map(e -> BgpConfiguration.from(e.value()))
            .orElse(BgpConfiguration.defaults());
    return bgp.bfdIntervalMs() > 0
        ? Duration.ofMillis((long) bgp.bfdIntervalMs() * bgp.bfdMultiplier())
        : Duration.ofSeconds(bgp.holdSeconds());
  }

  /** Running pods that are not churned, one per node in turn, at most {@value #MAX_PODS}. */
  private static List<PodTarget> meshPods(LabLayout layout, Datastore store) {
    Map<String, List<PodTarget>> byNode = new TreeMap<>();
    for (var e : store.list(ResourceKey.kindPrefix(PodResource.KIND)).entries()) {
      PodResource p = PodResource.from(e.value());
      if (p.phase().equals("Running")
          && p.podIp().isPresent()
          && p.nodeName().isPresent()
          && !p.deleting()
          && !p.name().startsWith(PodChurn.PREFIX)) {
        byNode
            .computeIfAbsent(p.nodeName().get(), n -> new ArrayList<>())
            .add(
                new PodTarget(
                    p.qualifiedName(),
                    p.nodeName().get(),
                    layout.netnsOf(p),
                    p.podIp().get(),
                    tcpPort(p)));
      }
    }
    List<PodTarget> out = new ArrayList<>();
    for (int round = 0; out.size() < MAX_PODS; round++) {
      boolean any = false;
      for (List<PodTarget> onNode : byNode.values()) {
        if (round < onNode.size() && out.size() < MAX_PODS) {
          out.add(onNode.get(round));
          any = true;
        }
      }
      if (!any) {
        break;
      }
    }
    return out;
  }

  /** The TCP port a pod answers on: its first declared one, or 80 when it declares none. */
  static int tcpPort(PodResource p) {
    return p.ports().stream()
        .filter(c -> c.protocol().equals("TCP"))
        .map(PodResource.ContainerPort::containerPort)
        .findFirst()
        .orElse(p.ports().isEmpty() ? 80 : -1);
  }

  private static List<ProbeMesh.Path> paths(List<PodTarget> pods, Datastore store) {
    List<ProbeMesh.Path> out = new ArrayList<>();
    for (PodTarget from : pods) {
      for (PodTarget to : pods) {
        if (from != to && to.port() > 0) {
          out.add(
              new ProbeMesh.Path(
                  from.name() + " -> " + to.name(),
                  from.netns(),
                  from.ip(),
                  to.ip(),
                  to.port(),
                  Set.of(to.ip()),
                  new HashSet<>(List.of(from.node(), to.node()))));
        }
      }
    }
    List<JsonNode> services =
        store.list(ResourceKey.kindPrefix("Service")).entries().stream()
            .map(e -> e.value())
            .toList();
    List<JsonNode> slices =
        store.list(ResourceKey.kindPrefix("EndpointSlice")).entries().stream()
            .map(e -> e.value())
            .toList();
    for (ServicePort s : ServicePortResolver.resolve(services, slices)) {
      if (!s.protocol().equals("TCP") || s.clusterIp().isEmpty() || s.endpoints().isEmpty()) {
        continue;
      }
      Set<String> backendNodes = new HashSet<>();
      s.endpoints().forEach(e -> e.nodeName().ifPresent(backendNodes::add));
      Set<String> backends = new HashSet<>();
      s.endpoints().forEach(e -> backends.add(e.ip()));
      for (PodTarget from : pods) {
        Set<String> nodes = new HashSet<>(backendNodes);
        nodes.add(from.node());
        out.add(
            new ProbeMesh.Path(
                from.name() + " -> service " + s.namespace() + "/" + s.name() + ":" + s.port(),
                from.netns(),
                from.ip(),
                s.clusterIp(),
                s.port(),
                backends,
                nodes));
      }
    }
    return out;
  }

  /**
   * Waits until every agent has programmed the store's {@code revision} (policy and services) and
   * reconciled its node twice more, so that what a deleted pod left is not what is still being
   * removed.
   */
  private void awaitAgentsCaughtUp(int nodes, long revision) {
    long deadline = System.nanoTime() + 60_000_000_000L;
    for (int i = 1; i <= nodes; i++) {
      String node = LabLayout.nodeName(i);
      long reconciles = -1;
      while (true) {
        JsonNode h = lab.agentHealth(node).map(Json::parse).orElse(null);
        if (h != null
            && h.path("policyRevision").asLong(-1) >= revision
            && h.path("proxyRevision").asLong(-1) >= revision) {
          if (reconciles < 0) {
            reconciles = h.path("reconciles").asLong();
          } else if (h.path("reconciles").asLong() >= reconciles + 2) {
            break;
          }
        }
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException(
              "the agent on " + node + " did not catch up with revision " + revision + " in 60 s");
        }
        FaultInjector.sleep(100);
      }
    }
  }

  /** Waits until the churned pods are gone from the store (their sandboxes torn down). */
  private static void awaitChurnGone(Datastore store) {
    long deadline = System.nanoTime() + 60_000_000_000L;
    while (store.list(ResourceKey.kindPrefix(PodResource.KIND)).entries().stream()
        .anyMatch(e -> PodResource.from(e.value()).name().startsWith(PodChurn.PREFIX))) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("churned pods were not all deleted within 60 s");
      }
      FaultInjector.sleep(200);
    }
  }
}
