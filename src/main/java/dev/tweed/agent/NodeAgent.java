package dev.tweed.agent;

import dev.tweed.calc.BirdConfigRenderer;
import dev.tweed.calc.CalculationGraph;
import dev.tweed.calc.ClusterState;
import dev.tweed.calc.NodeDataplaneCalculator;
import dev.tweed.cni.AgentSocketServer;
import dev.tweed.cni.CniPlugin;
import dev.tweed.dataplane.BirdSupervisor;
import dev.tweed.dataplane.DataplaneDiff;
import dev.tweed.dataplane.IpTool;
import dev.tweed.dataplane.NodeDataplaneDriver;
import dev.tweed.datastore.Datastore;
import dev.tweed.datastore.DatastoreSpec;
import dev.tweed.datastore.DatastoreUnavailableException;
import dev.tweed.datastore.Syncer;
import dev.tweed.datastore.UpdateBatch;
import dev.tweed.datastore.UpdateBuffer;
import dev.tweed.model.BgpConfiguration;
import dev.tweed.model.IpamBlock;
import dev.tweed.model.Json;
import dev.tweed.model.NodeDataplane;
import dev.tweed.model.NodeResource;
import dev.tweed.model.WorkloadEndpoint;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One node's agent. Changes from the syncer and a periodic resync both wake the reconcile loop,
 * which computes the desired dataplane and converges the kernel to it; the periodic pass is what
 * repairs drift made behind the agent's back.
 */
public final class NodeAgent implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(NodeAgent.class);
  private final AgentConfig config;
  private final Datastore store;
  private final Syncer syncer;
  private final NodeDataplaneCalculator calc;
  private final CalculationGraph graph;

  /** The syncer's updates not yet given to the graph, coalesced by key. */
  private final UpdateBuffer updates = new UpdateBuffer();

  /** What the graph last gave the routes' and BIRD's drivers (null: not calculated yet). */
  private NodeDataplane routes;

  private String birdConfig;

  /** Inputs changed that the service proxy or policy driver has not written yet. */
  private boolean servicesPending = true;

  private boolean policyPending = true;
  private final Optional<BirdSupervisor> bird;
  private final NodeDataplaneDriver driver = new NodeDataplaneDriver(IpTool.here());
  private final ServiceProxySync proxy;
  private final PolicySync<?> policy;
  private final dev.tweed.policy.PolicyCalculator policyCalc;
  private final Optional<EbpfSync> ebpf;

  /** The datastore revision the policy rules were last synced from (-1: never). */
  private volatile long policyRevision = -1;

  /** The datastore revision the service rules were last synced from (-1: never). */
  private volatile long proxyRevision = -1;

  private final dev.tweed.observe.AgentMetrics metrics;
  private final dev.tweed.observe.FlowRecorder flows;

  /** The standard datapath's flows: the kernel's conntrack events. */
  private dev.tweed.observe.ConntrackFlows conntrackFlows;

  private dev.tweed.observe.NflogDrops nflogDrops;

  /** Why this agent records no flows, if it cannot. */
  private volatile String flowsUnavailable = "";

  /** Addresses of this node's pods (a flow's direction is relative to them). */
  private volatile java.util.Set<String> localPods = java.util.Set.of();

  private dev.tweed.observe.MetricsServer metricsServer;
  private final AtomicBoolean ready = new AtomicBoolean();
  private volatile boolean datastoreUp = true;
  private final AtomicReference<String> datastoreError = new AtomicReference<>("");
  private final AtomicBoolean dirty = new AtomicBoolean(true);

  /** This pass was the periodic resync, not woken by a change: drivers also check for drift. */
  private volatile boolean periodicPass;

  private final AtomicLong reconciles = new AtomicLong();
  private final AtomicLong repairs = new AtomicLong();
  private final AtomicReference<String> lastError = new AtomicReference<>("");
  private final AtomicReference<Instant> lastReconcile = new AtomicReference<>(Instant.EPOCH);
  private final Object wake = new Object();

  /** When the oldest unreconciled change arrived, and the newest (System.nanoTime). */
  private volatile long firstChange;

  private volatile long lastChange;

  /** Changes are coalesced until quiet for this long, but never delayed beyond MAX_DELAY. */
  private static final long QUIET_NANOS = 100_000_000L;

  private static final long MAX_DELAY_NANOS = 1_000_000_000L;
  private final CountDownLatch stopped = new CountDownLatch(1);
  private volatile boolean running = true;
  private AgentSocketServer socket;

  /**
   * Every kind an agent follows, whatever its datastore; the eBPF datapath also follows identities.
   */
  public static final List<String> FOLLOWED_KINDS =
      List.of(
          NodeResource.KIND,
          IpamBlock.KIND,
          WorkloadEndpoint.KIND,
          "Service",
          "EndpointSlice",
          dev.tweed.model.PodResource.KIND,
          "Namespace",
          "NetworkPolicy",
          BgpConfiguration.KIND);

  public NodeAgent(AgentConfig config) {
    this.config = config;
    this.store = config.datastore().openStore();
    this.calc = new NodeDataplaneCalculator(config.nodeName(), !config.bgp(), config.ebpf());
    this.graph = new CalculationGraph(config.nodeName());
    this.bird =
        config.bgp()
            ? Optional.of(new BirdSupervisor(config.socket().getParent(), config.nodeName()))
            : Optional.empty();
    this.proxy = new ServiceProxySync(config.proxyMode(), config.serviceCidr());
    this.policy = PolicySync.here(config.proxyMode());
    this.policyCalc = new dev.tweed.policy.PolicyCalculator(config.nodeName());
    List<String> kinds = new ArrayList<>(FOLLOWED_KINDS);
    if (config.ebpf()) {
      kinds.add(dev.tweed.ebpf.IdentityAllocator.KIND);
    }
    this.syncer = DatastoreSpec.openSyncer(store, kinds, this::onUpdates);
    this.flows = new dev.tweed.observe.FlowRecorder(config.nodeName());
    this.ebpf = config.ebpf() ? Optional.of(new EbpfSync(config, store, flows)) : Optional.empty();
    this.metrics = new dev.tweed.observe.AgentMetrics();
    registerMetrics();
  }

  /** The values the agent keeps itself, read by Prometheus when it scrapes. */
  private void registerMetrics() {
    metrics.counter("tweed_reconciles", "Reconcile passes of the agent", reconciles::get);
    metrics.counter(
        "tweed_dataplane_repairs",
        "Route, link, neighbour and FDB changes made to bring the kernel back to the intent",
        repairs::get);
    syncer
        .relists()
        .ifPresent(
            n ->
                metrics.counter(
                    "tweed_datastore_relists",
                    "Times the agent listed the datastore again (a watch that broke, an outage)",
                    () -> syncer.relists().orElse(0)));
    metrics.counters(
        "tweed_drops",
        "Packets dropped by Tweed's datapath, by reason (the programs' counts, or the counters of"
            + " Tweed's netfilter drop rules)",
        "reason",
        this::drops);
    ebpf.ifPresent(
        e ->
            metrics.counter(
                "tweed_forwarded_packets",
                "Packets the eBPF programs forwarded themselves",
                () -> e.packets().getOrDefault("forwarded", 0L)));
    metrics.counters(
        "tweed_flows",
        "Flows the datapath reported: connections let through, packets dropped or refused",
        "verdict",
        flows::byVerdict);
    metrics.counter(
        "tweed_flows_overwritten",
        "Flows dropped from the agent's ring of recent flows to make room for newer ones",
        flows::overwritten);
    ebpf.ifPresent(
        e ->
            metrics.counter(
                "tweed_flow_events_lost",
                "Flow events the programs could not report: their ring buffer was full",
                () -> e.packets().getOrDefault(dev.tweed.ebpf.DatapathMaps.EVENTS_LOST, 0L)));
    ebpf.ifPresent(
        e -> {
          metrics.gauge(
              "tweed_conntrack_entries",
              "Connections in the eBPF datapath's conntrack map after the collector's last pass",
              e::conntrackEntries);
          metrics.counter(
              "tweed_conntrack_collected",
              "Conntrack entries of ended or idle connections the collector removed",
              e::conntrackCollected);
        });
    bird.ifPresent(
        b ->
            metrics.gauges(
                "tweed_bgp_sessions",
                "BGP sessions of this node's BIRD, by state",
                "state",
                () -> dev.tweed.observe.BgpSessions.read(b.control())));
  }

  private java.util.Map<String, Long> drops() {
    if (ebpf.isPresent()) {
      java.util.Map<String, Long> out = new java.util.TreeMap<>(ebpf.get().packets());
      out.remove("forwarded");
      out.remove(dev.tweed.ebpf.DatapathMaps.EVENTS_LOST);
      return out;
    }
    return dev.tweed.observe.NetfilterDrops.read(config.proxyMode());
  }

  public void run() throws IOException {
    Files.writeString(Path.of("/proc/sys/net/ipv4/ip_forward"), "1");
    // NodePorts answer on localhost too, as kube-proxy's default has them (KUBE-FIREWALL guards
    // it).
    Files.writeString(Path.of("/proc/sys/net/ipv4/conf/all/route_localnet"), "1");
    if (!config.metricsAddress().isEmpty()) {
      metricsServer = new dev.tweed.observe.MetricsServer(config.metricsAddress(), metrics);
      LOG.info("event=metrics-serving address={}", config.metricsAddress());
    }
    syncer.start();
    if (ebpf.isEmpty()) {
      // Observation must not keep a node from networking: without conntrack, no flows, said so.
      try {
        conntrackFlows =
            new dev.tweed.observe.ConntrackFlows(ip -> localPods.contains(ip), flows::record);
      } catch (RuntimeException e) {
        flowsUnavailable = e.getMessage();
        LOG.warn("event=flows-unavailable error=\"{}\"", e.getMessage());
      }
      try {
        nflogDrops = new dev.tweed.observe.NflogDrops(flows::record);
      } catch (RuntimeException e) {
        LOG.warn("event=drop-flows-unavailable error=\"{}\"", e.getMessage());
      }
    }
    CniPlugin plugin =
        new CniPlugin(config.nodeName(), store, this::notReadyReason, metrics::cniCall);
    socket = new AgentSocketServer(config.socket(), plugin, this::operation);
    LOG.info("event=agent-started node={} socket={}", config.nodeName(), config.socket());
    long intervalMillis = config.resyncInterval().toMillis();
    while (running) {
      boolean storeUp = checkDatastore();
      try {
        // During an outage the cache is what the store said last: reconciling from it keeps the
        // dataplane exactly as it was and still repairs drift.
        reconcileOnce();
        lastError.set(
            storeUp ? (syncer.synced() ? "" : "datastore not synced yet") : datastoreError.get());
        ready.set(storeUp && syncer.synced());
      } catch (RuntimeException e) {
        lastError.set(e.getMessage());
        ready.set(false);
        LOG.warn("event=reconcile-failed error=\"{}\"", e.getMessage());
      }
      try {
        awaitWork(intervalMillis);
      } catch (InterruptedException e) {
        break;
      }
    }
    stopped.countDown();
  }

  /**
   * Sleeps until the resync interval passes or changes arrive; a burst of changes (say, many pods
   * created at once) is reconciled once, after it settles, like kube-proxy's bounded-frequency
   * runner.
   */
  private void awaitWork(long intervalMillis) throws InterruptedException {
    synchronized (wake) {
      if (!dirty.get() && running) {
        wake.wait(intervalMillis);
      }
      while (dirty.get() && running) {
        long now = System.nanoTime();
        long quietLeft = lastChange + QUIET_NANOS - now;
        long maxLeft = firstChange + MAX_DELAY_NANOS - now;
        long wait = Math.min(quietLeft, maxLeft);
        if (wait <= 0) {
          return;
        }
        wake.wait(Math.max(1, wait / 1_000_000));
      }
    }
  }

  private void onUpdates(UpdateBatch batch) {
    if (updates.add(batch)) {
      markDirty();
    }
  }

  private void markDirty() {
    long now = System.nanoTime();
    if (!dirty.get()) {
      firstChange = now;
    }
    lastChange = now;
    dirty.set(true);
    synchronized (wake) {
      wake.notifyAll();
    }
  }

  /**
   * The agent's check that its datastore answers, logged on each change. Catching up after an
   * outage is the syncer's job (its watch resumes, or it lists again).
   */
  private boolean checkDatastore() {
    try {
      syncer.checkReachable();
      metrics.datastoreReachable(true);
      if (!datastoreUp) {
        LOG.info("event=datastore-reachable node={}", config.nodeName());
        datastoreUp = true;
        datastoreError.set("");
      }
      return true;
    } catch (DatastoreUnavailableException e) {
      metrics.datastoreReachable(false);
      if (datastoreUp) {
        LOG.warn(
            "event=datastore-unreachable node={} action=keep-dataplane error=\"{}\"",
            config.nodeName(),
            e.getMessage());
      }
      datastoreUp = false;
      datastoreError.set(e.getMessage());
      return false;
    }
  }

  /** Why CNI calls must wait, or empty when the agent is ready. */
  private Optional<String> notReadyReason() {
    if (ready.get()) {
      return Optional.empty();
    }
    String why = datastoreError.get().isEmpty() ? lastError.get() : datastoreError.get();
    return Optional.of(why.isEmpty() ? "starting" : why);
  }

  private void reconcileOnce() {
    periodicPass = !dirty.getAndSet(false);
    UpdateBatch batch = updates.drain();
    long snapshotRevision = batch.revision();
    CalculationGraph.Changes changes = graph.apply(batch.updates());
    changes.rejected().forEach(r -> LOG.warn("event=invalid-resource {}", r));
    servicesPending |= changes.services();
    policyPending |= changes.policy() || changes.identities();
    if (changes.routes() || routes == null) {
      routes = calc.calculate(graph.clusterState());
      localPods =
          graph.clusterState().endpoints().stream()
              .filter(w -> w.node().equals(config.nodeName()))
              .map(WorkloadEndpoint::ip)
              .collect(java.util.stream.Collectors.toUnmodifiableSet());
      metrics.programmed("routes", routes.routes().size());
    }
    long t0 = System.nanoTime();
    // CNI calls run concurrently and record a pod's endpoint before adding its route. A route
    // the kernel shows that this (older) snapshot lacks may belong to such a call: while the
    // store has moved on (or cannot be asked), pod routes are not removed; the next pass decides.
    DataplaneDiff diff = driver.reconcile(routes, () -> syncer.unchangedSince(snapshotRevision));
    long t1 = System.nanoTime();
    metrics.synced("routes", t1 - t0);
    if (bird.isPresent()) {
      syncBird(changes.bgp());
      metrics.synced("bird", System.nanoTime() - t1);
    }
    timed(ebpf.isPresent() ? "services" : "proxy", () -> syncServices(snapshotRevision));
    timed(ebpf.isPresent() ? "maps" : "policy", () -> syncPolicies(snapshotRevision));
    reconciles.incrementAndGet();
    if (!diff.isEmpty()) {
      repairs.addAndGet(diff.size());
    }
    lastReconcile.set(Instant.now());
  }

  /** Runs a sync and, when it did something, records how long it took. */
  private void timed(String part, java.util.function.BooleanSupplier sync) {
    long start = System.nanoTime();
    if (sync.getAsBoolean()) {
      metrics.synced(part, System.nanoTime() - start);
    }
  }

  /**
   * BGP: BIRD runs the configuration the datastore implies (rendered again only when nodes, blocks
   * or the BGP configuration changed), and runs again if it died.
   */
  private void syncBird(boolean changed) {
    if (bird.isEmpty()) {
      return;
    }
    if (changed || birdConfig == null) {
      ClusterState state = graph.clusterState();
      birdConfig =
          BirdConfigRenderer.render(config.nodeName(), state.nodes(), state.blocks(), graph.bgp());
    }
    try {
      bird.get().apply(birdConfig);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /**
   * Services: synced when services, slices or nodes changed, or the periodic full sync is due; by
   * the eBPF programs' maps in an eBPF datapath (no service rule at all), else by the proxy's
   * rules.
   */
  private boolean syncServices(long revision) {
    boolean due =
        ebpf.isPresent()
            ? ebpf.get().servicesCheckDue()
            : proxy.fullSyncDue() || proxy.retryPending();
    if (!servicesPending && !due) {
      proxyRevision = revision;
      return false;
    }
    List<String> nodeIps =
        graph.nodes().stream()
            .filter(n -> n.name().equals(config.nodeName()))
            .map(NodeResource::internalIp)
            .toList();
    servicesPending = false;
    var node = new dev.tweed.proxy.ProxyNode(config.nodeName(), config.clusterCidr(), nodeIps);
    if (ebpf.isPresent()) {
      ebpf.get().syncServices(node, graph.servicePorts());
      metrics.programmed("service_ports", ebpf.get().servicePorts());
    } else {
      proxy.sync(node, graph.services(), graph.slices());
      metrics.programmed("service_ports", proxy.servicePorts());
      flows.services(frontends(proxy.ports(), nodeIps));
    }
    proxyRevision = revision;
    return true;
  }

  /**
   * Policy: the graph's incremental intent, written when pods, endpoints, namespaces, policies or
   * identities changed, or on the periodic pass (which also looks for drift).
   */
  private boolean syncPolicies(long revision) {
    if (ebpf.isPresent() && !policyPending) {
      // Nothing new to calculate: the periodic pass only checks the kernel against what was
      // written last (hooks, and every few seconds the maps).
      if (periodicPass) {
        ebpf.get().verify();
      }
      policyRevision = revision;
      return periodicPass;
    }
    if (!policyPending && !policy.fullSyncDue() && !policy.retryPending()) {
      policyRevision = revision;
      return false;
    }
    // While backing off after a failure nothing is written, so the revision must not advance:
    // it is what the lab waits on before it probes.
    if (ebpf.isEmpty() && !policy.mayRun()) {
      return false;
    }
    dev.tweed.policy.PolicyIntent intent = graph.policyIntent();
    flowPods(intent);
    if (ebpf.isPresent()) {
      // A sync that fails leaves the change pending: the next pass calculates and writes again.
      ebpf.get()
          .sync(
              graph.clusterState(),
              graph.policyPods(),
              graph.namespaceLabels(),
              intent,
              graph.identities(),
              periodicPass);
      ebpf.get().mapSizes().forEach((kind, n) -> metrics.programmed(kind, n));
    } else {
      policy.sync(intent);
      metrics.programmed("policy_endpoints", intent.endpoints().size());
      metrics.programmed("policy_address_sets", intent.sets().size());
    }
    policyPending = false;
    policyRevision = revision;
    return true;
  }

  /**
   * Service ports by frontend, as flows name them (the standard datapath's, from the proxy's view).
   */
  private static java.util.Map<String, String> frontends(
      List<dev.tweed.proxy.ServicePort> ports, List<String> nodeIps) {
    java.util.Map<String, String> out = new java.util.HashMap<>();
    for (var p : ports) {
      int proto = p.protocol().equals("UDP") ? 17 : p.protocol().equals("TCP") ? 6 : 132;
      String name = p.portNameString();
      out.put(p.clusterIp() + ":" + p.port() + "/" + proto, name);
      if (p.nodePort() != 0) {
        nodeIps.forEach(ip -> out.put(ip + ":" + p.nodePort() + "/" + proto, name));
      }
      p.externalIps().forEach(ip -> out.put(ip + ":" + p.port() + "/" + proto, name));
      p.loadBalancerIps().forEach(ip -> out.put(ip + ":" + p.port() + "/" + proto, name));
    }
    return out;
  }

  /** Pods and the policies isolating them, as flows name them. */
  private void flowPods(dev.tweed.policy.PolicyIntent intent) {
    java.util.Map<String, java.util.Map<String, String>> namespaces = graph.namespaceLabels();
    java.util.Map<String, dev.tweed.observe.FlowEnricher.PodRef> byIp = new java.util.HashMap<>();
    for (dev.tweed.policy.PolicyPod p : graph.policyPods()) {
      p.ip()
          .ifPresent(
              ip ->
                  byIp.put(
                      ip,
                      new dev.tweed.observe.FlowEnricher.PodRef(
                          p.namespace(),
                          p.name(),
                          dev.tweed.ebpf.Identities.labels(
                              p.namespace(),
                              p.labels(),
                              namespaces.getOrDefault(p.namespace(), java.util.Map.of())))));
    }
    java.util.Map<String, List<String>> ingress = new java.util.HashMap<>();
    java.util.Map<String, List<String>> egress = new java.util.HashMap<>();
    for (var e : intent.endpoints()) {
      e.ingressPolicies().ifPresent(l -> ingress.put(e.pod(), l));
      e.egressPolicies().ifPresent(l -> egress.put(e.pod(), l));
    }
    flows.pods(byIp, ingress, egress, new dev.tweed.policy.PolicyAllowers(intent));
  }

  /** A request on the agent's socket that is not a CNI call: health, or the recorded flows. */
  private String operation(java.util.Map<String, String> env) {
    if (!"flows".equals(env.get("TWEED_OP"))) {
      return healthJson();
    }
    var n = Json.object();
    if (!flowsUnavailable.isEmpty()) {
      n.put("error", "node " + config.nodeName() + " records no flows: " + flowsUnavailable);
      return Json.write(n);
    }
    var page = flows.after(Long.parseLong(env.getOrDefault("TWEED_SINCE", "0")));
    var a = n.putArray("flows");
    page.flows().forEach(f -> a.add(f.toJson()));
    n.put("next", page.next());
    n.put("overwritten", page.overwritten());
    n.put("capacity", page.capacity());
    return Json.write(n);
  }

  public String healthJson() {
    var n = Json.object();
    n.put("node", config.nodeName());
    n.put("ready", ready.get());
    n.put("datastore", config.datastore().kind().id());
    n.put("datastoreReachable", datastoreUp);
    n.put("datastoreRevision", syncer.revision());
    n.put("reconciles", reconciles.get());
    n.put("repairs", repairs.get());
    n.put("policyRevision", policyRevision);
    n.put("proxyRevision", proxyRevision);
    n.put("lastReconcile", lastReconcile.get().toString());
    n.put("lastError", lastError.get());
    bird.ifPresent(
        b -> n.putObject("bird").put("running", b.running()).put("restarts", b.restarts()));
    ebpf.ifPresent(e -> n.set("ebpf", e.status()));
    return Json.write(n);
  }

  @Override
  public void close() {
    // Stopping leaves the dataplane as it is: a restart must not drop a packet.
    running = false;
    markDirty();
    try {
      stopped.await(5, java.util.concurrent.TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (socket != null) {
      socket.close();
    }
    // BIRD's kernel routes persist when it stops, so routes stay while the agent restarts.
    bird.ifPresent(BirdSupervisor::close);
    ebpf.ifPresent(EbpfSync::close);
    if (metricsServer != null) {
      metricsServer.close();
    }
    if (nflogDrops != null) {
      nflogDrops.close();
    }
    if (conntrackFlows != null) {
      conntrackFlows.close();
    }
    syncer.close();
    store.close();
    LOG.info("event=agent-stopped node={}", config.nodeName());
  }
}
