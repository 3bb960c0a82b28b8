package dev.tweed.agent;

import dev.tweed.calc.BirdConfigRenderer;
import dev.tweed.calc.CalculationGraph;
import dev.tweed.calc.ClusterState;
import dev.tweed.calc.EventSequencer;
import dev.tweed.dataplane.BirdSupervisor;
import dev.tweed.dataplane.DataplaneDiff;
import dev.tweed.dataplane.IpTool;
import dev.tweed.dataplane.NodeDataplaneDriver;
import dev.tweed.datastore.Datastore;
import dev.tweed.datastore.DatastoreUnavailableException;
import dev.tweed.datastore.Syncer;
import dev.tweed.datastore.UpdateBatch;
import dev.tweed.datastore.UpdateBuffer;
import dev.tweed.datastore.backends.Backends;
import dev.tweed.ebpf.IdentityAllocator;
import dev.tweed.model.BgpConfiguration;
import dev.tweed.model.IpFamily;
import dev.tweed.model.IpamBlock;
import dev.tweed.model.Json;
import dev.tweed.model.Kinds;
import dev.tweed.model.NodeDataplane;
import dev.tweed.model.NodeResource;
import dev.tweed.model.PodResource;
import dev.tweed.model.WorkloadEndpoint;
import dev.tweed.observe.AgentMetrics;
import dev.tweed.observe.AgentMetricsBinding;
import dev.tweed.observe.FlowRecorder;
import dev.tweed.observe.MetricsServer;
import dev.tweed.proxy.ProxyNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One node's agent: the syncer's updates go into the calculation graph, and each pass hands what
 * changed, ordered by the {@link EventSequencer}, to the drivers (routes, BIRD, and the node's
 * {@link NodeDatapath}), which converge the kernel to it. Passes run when changes settle and
 * periodically; the periodic ones repair drift made behind the agent's back.
 */
public final class NodeAgent implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(NodeAgent.class);

  /**
   * Every kind an agent follows, whatever its datastore; the eBPF datapath also follows identities.
   */
  public static final List<String> FOLLOWED_KINDS =
      List.of(
          NodeResource.KIND,
          IpamBlock.KIND,
          WorkloadEndpoint.KIND,
          Kinds.SERVICE,
          Kinds.ENDPOINT_SLICE,
          PodResource.KIND,
          Kinds.NAMESPACE,
          Kinds.NETWORK_POLICY,
          BgpConfiguration.KIND);

  private final AgentConfig config;
  private final Datastore store;
  private final Syncer syncer;
  private final CalculationGraph graph;

  /** The syncer's updates not yet given to the graph, coalesced by key. */
  private final UpdateBuffer updates = new UpdateBuffer();

  private final ReconcileTrigger trigger = new ReconcileTrigger();

  /** What the graph last gave the routes' and BIRD's drivers (null: not calculated yet). */
  private NodeDataplane routes;

  private String birdConfig;

  /** The graph's changes not yet flushed to the drivers, and the order they are flushed in. */
  private final EventSequencer sequencer = new EventSequencer();

  private final NodeDataplaneDriver routeDriver =
      new NodeDataplaneDriver(IpTool.here()).watchingKernel();
  private final Optional<BirdSupervisor> bird;
  private final NodeDatapath datapath;
  private final AgentMetrics metrics = new AgentMetrics();
  private final FlowRecorder flows;
  private Optional<MetricsServer> metricsServer = Optional.empty();

  /** The datastore revision the policy rules were last synced from (-1: never). */
  private volatile long policyRevision = -1;

  /** The datastore revision the service rules were last synced from (-1: never). */
  private volatile long proxyRevision = -1;

  private final AtomicBoolean ready = new AtomicBoolean();
  private volatile boolean datastoreUp = true;
  private final AtomicReference<String> datastoreError = new AtomicReference<>("");
  private final AtomicLong reconciles = new AtomicLong();
  private final AtomicLong repairs = new AtomicLong();
  private final AtomicReference<String> lastError = new AtomicReference<>("");
  private final AtomicReference<Instant> lastReconcile = new AtomicReference<>(Instant.EPOCH);
  private final CountDownLatch stopped = new CountDownLatch(1);
  private volatile boolean running = true;

  public NodeAgent(AgentConfig config) {
    this.config = config;
    this.store = Backends.open(config.datastore());
    this.graph =
        new CalculationGraph(config.nodeName(), !config.bgp(), config.ebpf(), config.families());
    this.bird =
        config.bgp()
            ? Optional.of(new BirdSupervisor(config.socket().getParent(), config.nodeName()))
            : Optional.empty();
    List<String> kinds = new ArrayList<>(FOLLOWED_KINDS);
    if (config.ebpf()) {
      kinds.add(IdentityAllocator.KIND);
    }
    this.syncer = Backends.syncer(store, kinds, this::onUpdates);
    this.flows = new FlowRecorder(config.nodeName());
    this.datapath = NodeDatapath.of(config, store, flows, metrics);
    AgentMetricsBinding.agent(metrics, reconciles::get, repairs::get, syncer::relists, flows);
    bird.ifPresent(b -> AgentMetricsBinding.bgp(metrics, b.control()));
  }

  public void run() throws IOException {
    Files.writeString(Path.of("/proc/sys/net/ipv4/ip_forward"), "1");
    if (config.families().contains(IpFamily.IPV6)) {
      // A router in IPv6 is one with forwarding on for all interfaces; it then also ignores
      // router advertisements, which a node with static routes wants anyway.
      Files.writeString(Path.of("/proc/sys/net/ipv6/conf/all/forwarding"), "1");
    }
    // NodePorts answer on localhost too, as kube-proxy's default has them (KUBE-FIREWALL guards
    // it).
    Files.writeString(Path.of("/proc/sys/net/ipv4/conf/all/route_localnet"), "1");
    if (!config.metricsAddress().isEmpty()) {
      metricsServer = Optional.of(new MetricsServer(config.metricsAddress(), metrics));
      LOG.info("event=metrics-serving address={}", config.metricsAddress());
    }
    syncer.start();
    datapath.startFlows();
    LOG.info("event=agent-started node={}", config.nodeName());
    boolean periodic = false;
    while (running) {
      boolean storeUp = checkDatastore();
      try {
        // During an outage the cache is what the store said last: reconciling from it keeps the
        // dataplane exactly as it was and still repairs drift.
        reconcileOnce(periodic);
        lastError.set(
            storeUp ? (syncer.synced() ? "" : "datastore not synced yet") : datastoreError.get());
        ready.set(storeUp && syncer.synced());
      } catch (RuntimeException e) {
        lastError.set(e.getMessage());
        ready.set(false);
        LOG.warn("event=reconcile-failed error=\"{}\"", e.getMessage());
      }
      try {
        periodic = trigger.awaitPass(config.resyncInterval());
      } catch (InterruptedException e) {
        break;
      }
    }
    stopped.countDown();
  }

  private void onUpdates(UpdateBatch batch) {
    if (updates.add(batch)) {
      trigger.changed();
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

  /** The store CNI calls write to (IPAM, workload endpoints): the one the agent follows. */
  public Datastore store() {
    return store;
  }

  public AgentMetrics metrics() {
    return metrics;
  }

  /** Why CNI calls must wait, or empty when the agent is ready. */
  public Optional<String> notReadyReason() {
    if (ready.get()) {
      return Optional.empty();
    }
    String why = datastoreError.get().isEmpty() ? lastError.get() : datastoreError.get();
    return Optional.of(why.isEmpty() ? "starting" : why);
  }

  private void reconcileOnce(boolean periodic) {
    UpdateBatch batch = updates.drain();
    long revision = batch.revision();
    CalculationGraph.Changes changes = graph.apply(batch.updates());
    changes.rejected().forEach(r -> LOG.warn("event=invalid-resource {}", r));
    sequencer.add(changes);
    sequencer.flush((step, changed) -> apply(step, changed, revision, periodic));
    reconciles.incrementAndGet();
    lastReconcile.set(Instant.now());
  }

  /** One of the sequencer's steps; false when it could not run yet (it stays pending). */
  private boolean apply(
      EventSequencer.Step step, boolean changed, long revision, boolean periodic) {
    return switch (step) {
      case ROUTES -> {
        syncRoutes(changed, revision);
        yield true;
      }
      case BGP -> {
        if (bird.isPresent()) {
          long start = System.nanoTime();
          syncBird(changed);
          metrics.synced("bird", System.nanoTime() - start);
        }
        yield true;
      }
      case SERVICES -> {
        timed(datapath.servicesPart(), () -> syncServices(revision, changed));
        yield true;
      }
      case POLICY -> {
        NodeDatapath.Sync done =
            timed(datapath.policyPart(), () -> syncPolicy(revision, changed, periodic));
        yield done != NodeDatapath.Sync.DEFERRED;
      }
    };
  }

  /**
   * Routes: recalculated when the graph's changed; the driver runs on every pass and decides itself
   * when to read the kernel.
   */
  private void syncRoutes(boolean changed, long revision) {
    if (changed || routes == null) {
      routes = graph.routes();
      metrics.programmed("routes", routes.routes().size());
    }
    long start = System.nanoTime();
    // CNI calls run concurrently and record a pod's endpoint before adding its route. A route
    // the kernel shows that this (older) snapshot lacks may belong to such a call: while the
    // store has moved on (or cannot be asked), pod routes are not removed; the next pass decides.
    DataplaneDiff diff = routeDriver.reconcile(routes, () -> syncer.unchangedSince(revision));
    metrics.synced("routes", System.nanoTime() - start);
    if (!diff.isEmpty()) {
      repairs.addAndGet(diff.size());
    }
  }

  /** Runs a sync and, when it did something, records how long it took. */
  private NodeDatapath.Sync timed(String part, Supplier<NodeDatapath.Sync> sync) {
    long start = System.nanoTime();
    NodeDatapath.Sync done = sync.get();
    if (done == NodeDatapath.Sync.SYNCED) {
      metrics.synced(part, System.nanoTime() - start);
    }
    return done;
  }

  /**
   * BGP: BIRD runs the configuration the datastore implies (rendered again only when nodes, blocks
   * or the BGP configuration changed), and runs again if it died.
   */
  private void syncBird(boolean changed) {
    if (changed || birdConfig == null) {
      ClusterState state = graph.clusterState();
      birdConfig =
          BirdConfigRenderer.render(
              config.nodeName(), state.nodes(), state.blocks(), graph.bgp(), config.families());
    }
    try {
      bird.orElseThrow().apply(birdConfig);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Services, when services, slices or nodes changed, or the datapath's own check is due. */
  private NodeDatapath.Sync syncServices(long revision, boolean changed) {
    List<String> nodeIps =
        graph.node(config.nodeName()).map(NodeResource::internalIps).orElse(List.of());
    NodeDatapath.Sync done =
        datapath.syncServices(
            new ProxyNode(
                config.nodeName(), config.clusterCidrs().cidrs().getFirst().toString(), nodeIps),
            graph,
            changed);
    proxyRevision = revision;
    return done;
  }

  /**
   * Policy: the graph's incremental intent, written when pods, endpoints, namespaces, policies or
   * identities changed, or on the periodic pass (which also looks for drift). A write that fails
   * leaves the change pending, and the revision where it was: it is what the lab waits on before it
   * probes.
   */
  private NodeDatapath.Sync syncPolicy(long revision, boolean changed, boolean periodic) {
    if (changed) {
      flows.pods(graph.policyIntent(), graph.policyPods(), graph.namespaceLabels());
    }
    NodeDatapath.Sync done = datapath.syncPolicy(graph, changed, periodic);
    if (done != NodeDatapath.Sync.DEFERRED) {
      policyRevision = revision;
    }
    return done;
  }

  /** A request on the agent's socket that is not a CNI call: health, or the recorded flows. */
  public String operation(Map<String, String> env) {
    if (!"flows".equals(env.get("TWEED_OP"))) {
      return healthJson();
    }
    var n = Json.object();
    String unavailable = datapath.flowsUnavailable();
    if (!unavailable.isEmpty()) {
      n.put("error", "node " + config.nodeName() + " records no flows: " + unavailable);
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
    datapath.describe(n);
    return Json.write(n);
  }

  @Override
  public void close() {
    // Stopping leaves the dataplane as it is: a restart must not drop a packet.
    running = false;
    trigger.stop();
    try {
      stopped.await(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    // BIRD's kernel routes persist when it stops, so routes stay while the agent restarts.
    bird.ifPresent(BirdSupervisor::close);
    datapath.close();
    routeDriver.close();
    metricsServer.ifPresent(MetricsServer::close);
    syncer.close();
    store.close();
    LOG.info("event=agent-stopped node={}", config.nodeName());
  }
}
