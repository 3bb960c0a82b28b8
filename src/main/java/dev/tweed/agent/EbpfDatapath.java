package dev.tweed.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tweed.calc.CalculationGraph;
import dev.tweed.calc.ClusterState;
import dev.tweed.calc.NodeDataplaneCalculator;
import dev.tweed.datastore.Datastore;
import dev.tweed.ebpf.ConntrackGc;
import dev.tweed.ebpf.DatapathMaps;
import dev.tweed.ebpf.DatapathObject;
import dev.tweed.ebpf.EbpfDataplane;
import dev.tweed.ebpf.EbpfIntent;
import dev.tweed.ebpf.EbpfIntentCalculator;
import dev.tweed.ebpf.FlowEventReader;
import dev.tweed.ebpf.Identities;
import dev.tweed.ebpf.IdentityAllocator;
import dev.tweed.ebpf.IdentityCollector;
import dev.tweed.ebpf.LbService;
import dev.tweed.ebpf.ServiceLbCalculator;
import dev.tweed.model.Cidr;
import dev.tweed.model.FamilyCidrs;
import dev.tweed.model.IpFamily;
import dev.tweed.model.Json;
import dev.tweed.model.WorkloadEndpoint;
import dev.tweed.observe.AgentMetrics;
import dev.tweed.observe.AgentMetricsBinding;
import dev.tweed.observe.FlowRecorder;
import dev.tweed.policy.PolicyIntent;
import dev.tweed.policy.PolicyPod;
import dev.tweed.proxy.ProxyNode;
import dev.tweed.proxy.ServicePort;
import dev.tweed.proxy.ServicePortIndex;
import dev.tweed.sys.RtNetlinkMonitor;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The eBPF datapath: identities allocated for the cluster's pods, the node's map contents
 * calculated from them and the policy intent, the driver that writes them, and the programs' own
 * counts and flow events. Services are load-balanced by the programs: no service rule at all.
 */
final class EbpfDatapath implements NodeDatapath {
  private static final Logger LOG = LoggerFactory.getLogger(EbpfDatapath.class);
  private final String nodeName;
  private final IdentityAllocator identities;
  private final IdentityCollector identityCollector;
  private final EbpfIntentCalculator calc;
  private final EbpfDataplane driver;
  private volatile EbpfIntent last = EbpfIntent.empty();

  /** Where the programs' flow events go, once the datapath is loaded. */
  private final FlowRecorder flows;

  private final AgentMetrics metrics;
  private FlowEventReader events;

  /** Each family's Services are load-balanced from its own maps, as its own proxier would. */
  private final Map<IpFamily, ServiceLbCalculator> lbCalcs = new EnumMap<>(IpFamily.class);

  private final Map<IpFamily, ProxyNode> lbNodes = new EnumMap<>(IpFamily.class);
  private final FamilyCidrs clusterCidrs;
  private volatile int services;
  private final SyncPacer servicePacer = new SyncPacer();

  /**
   * How often a quiet node's endpoint map (one entry per local pod) is compared with the kernel to
   * find drift, and its hooks too when the kernel announced a tc change since the last check.
   */
  private static final long MAP_CHECK_NANOS = 5_000_000_000L;

  private long lastMapCheck = System.nanoTime() - MAP_CHECK_NANOS;

  /**
   * How often the IP cache and policy maps, which grow with the cluster and its policies (29,000
   * entries at 1,000 pods and 1,000 policies), are compared with the kernel, as the rule modes'
   * drift checks run: a batch read and a diff of every entry each time.
   */
  private static final long POLICY_MAP_CHECK_NANOS = 30_000_000_000L;

  private long lastPolicyMapCheck = System.nanoTime() - POLICY_MAP_CHECK_NANOS;

  /**
   * How often every hook is asked for its program whatever the kernel announced: a question per
   * hook, two per local pod (asked every second, the hooks alone cost a node of 1,000 pods a tenth
   * of a core). In between they are asked only after a tc notification: someone (the agent
   * included) added or removed a qdisc or a filter.
   */
  private static final long HOOK_CHECK_NANOS = 600_000_000_000L;

  private long lastHookCheck = System.nanoTime() - HOOK_CHECK_NANOS;
  private final AtomicBoolean tcMoved = new AtomicBoolean(true);
  private final RtNetlinkMonitor tcMonitor =
      RtNetlinkMonitor.trafficControl(t -> tcMoved.set(true));

  /** How often ended and idle connections are removed from the conntrack map. */
  private static final Duration CONNTRACK_GC_EVERY = Duration.ofSeconds(5);

  private final ScheduledExecutorService conntrackGc =
      Executors.newSingleThreadScheduledExecutor(
          Thread.ofPlatform().daemon().name("conntrack-gc").factory());

  EbpfDatapath(AgentConfig config, Datastore store, FlowRecorder flows, AgentMetrics metrics) {
    this.flows = flows;
    this.metrics = metrics;
    this.nodeName = config.nodeName();
    this.identities = new IdentityAllocator(store);
    this.identityCollector = new IdentityCollector(store, IdentityCollector.DEFAULT_GRACE);
    this.calc = new EbpfIntentCalculator(config.nodeName());
    this.clusterCidrs = config.clusterCidrs();
    Path object =
        config.bpfObject().orElseGet(() -> DatapathObject.build(config.socket().getParent()));
    this.driver =
        new EbpfDataplane(
            object,
            config.bpfPinDir(),
            config.bgp(),
            config.serviceCidrs().cidrs().stream().map(Cidr::toString).toList(),
            config.bgp() ? "" : NodeDataplaneCalculator.VXLAN_DEVICE,
            "eth0",
            WorkloadEndpoint.HOST_MAC);
    conntrackGc.scheduleWithFixedDelay(
        this::collectConntrack,
        CONNTRACK_GC_EVERY.toMillis(),
        CONNTRACK_GC_EVERY.toMillis(),
        TimeUnit.MILLISECONDS);
    AgentMetricsBinding.drops(metrics, this::drops);
    AgentMetricsBinding.ebpf(
        metrics,
        new AgentMetricsBinding.EbpfCounters() {
          @Override
          public long forwarded() {
            return driver.counts().getOrDefault(FORWARDED, 0L);
          }

          @Override
          public long eventsLost() {
            return driver.counts().getOrDefault(DatapathMaps.EVENTS_LOST, 0L);
          }

          @Override
          public long conntrackEntries() {
            return conntrackEntries.get();
          }

          @Override
          public long conntrackCollected() {
            return conntrackCollected.get();
          }
        });
  }

  /** The programs' count of packets they forwarded themselves (the others are drops). */
  private static final String FORWARDED = "forwarded";

  private Map<String, Long> drops() {
    Map<String, Long> out = new TreeMap<>(driver.counts());
    out.remove(FORWARDED);
    out.remove(DatapathMaps.EVENTS_LOST);
    return out;
  }

  @Override
  public String servicesPart() {
    return "services";
  }

  @Override
  public String policyPart() {
    return "maps";
  }

  /** The programs' ring buffer is read from the first sync on, once they are loaded. */
  @Override
  public void startFlows() {}

  @Override
  public String flowsUnavailable() {
    return "";
  }

  @Override
  public Sync syncServices(ProxyNode node, CalculationGraph graph, boolean changed) {
    if (!changed && !servicesCheckDue()) {
      return Sync.UP_TO_DATE;
    }
    syncServices(node, graph);
    metrics.programmed("service_ports", services);
    return Sync.SYNCED;
  }

  @Override
  public Sync syncPolicy(CalculationGraph graph, boolean changed, boolean periodic) {
    if (!changed) {
      // Nothing new to calculate: every few seconds a periodic pass checks the kernel against
      // what was written last (hooks and maps).
      if (!periodic || System.nanoTime() - lastMapCheck <= MAP_CHECK_NANOS) {
        return Sync.UP_TO_DATE;
      }
      verify();
      return Sync.SYNCED;
    }
    // A sync that fails leaves the change pending: the next pass calculates and writes again.
    sync(
        graph.clusterState(),
        graph.policyPods(),
        graph.namespaceLabels(),
        graph.policyIntent(),
        graph.identities(),
        periodic);
    mapSizes().forEach(metrics::programmed);
    return Sync.SYNCED;
  }

  @Override
  public void describe(ObjectNode health) {
    health.set("ebpf", status());
  }

  /** Entries in the conntrack map at the collector's last pass, and entries it removed so far. */
  private final AtomicLong conntrackEntries = new AtomicLong();

  private final AtomicLong conntrackCollected = new AtomicLong();

  private void collectConntrack() {
    try {
      driver
          .collectConntrack(ConntrackGc.Lifetimes.DEFAULTS)
          .ifPresent(
              r -> {
                conntrackEntries.set(r.scanned() - r.removed());
                conntrackCollected.addAndGet(r.removed());
                // A pass is one bpf(2) call per entry or two: said when that adds up.
                if (r.micros() > 100_000) {
                  LOG.info(
                      "event=conntrack-gc scanned={} removed={} micros={}",
                      r.scanned(),
                      r.removed(),
                      r.micros());
                }
              });
    } catch (RuntimeException e) {
      // The next pass tries again; an exception would end the schedule.
      LOG.warn("event=conntrack-gc-failed error=\"{}\"", e.getMessage());
    }
  }

  private void sync(
      ClusterState state,
      List<PolicyPod> pods,
      Map<String, Map<String, String>> namespaces,
      PolicyIntent policy,
      List<JsonNode> identityObjects,
      boolean verifyAttachments) {
    List<List<String>> wanted =
        pods.stream()
            .filter(p -> p.ip().isPresent())
            .map(
                p ->
                    Identities.labels(
                        p.namespace(),
                        p.labels(),
                        namespaces.getOrDefault(p.namespace(), Map.of())))
            .toList();
    Map<List<String>, Integer> ids =
        identities.ensure(wanted, IdentityAllocator.read(identityObjects));
    identityCollector
        .collect(identityObjects, wanted, System.nanoTime())
        .forEach(id -> LOG.info("event=identity-collected node={} identity={}", nodeName, id));
    Map<String, String> macs = new HashMap<>();
    for (WorkloadEndpoint w : state.endpoints()) {
      if (w.node().equals(nodeName)) {
        w.ips().forEach(ip -> macs.put(ip, w.mac()));
      }
    }
    EbpfIntent intent =
        calc.calculate(
            new EbpfIntentCalculator.Inputs(
                state.nodes(), state.blocks(), pods, namespaces, macs, ids, policy));
    write(intent, verifyAttachments);
    last = intent;
    if (events == null) {
      events = new FlowEventReader(driver.eventsFd(), flows::record);
    }
  }

  /**
   * True when the service maps are due a comparison with the kernel (drift repair). Maps have no
   * generation to say cheaply that nothing moved, and the service maps grow with the cluster
   * (130,000 entries at 10,000 Services), so they are read back only at the full comparison's long
   * period; the endpoint and policy maps, which grow with the node, every few seconds.
   */
  private boolean servicesCheckDue() {
    return servicePacer.fullCompareDue() || servicePacer.retryPending();
  }

  /**
   * Services load-balanced by the programs: each family's service ports' frontends and backends
   * written to its maps, only what changed unless the periodic comparison with the kernel is due.
   */
  private void syncServices(ProxyNode node, CalculationGraph graph) {
    if (!servicePacer.mayRun()) {
      return;
    }
    boolean full = servicesCheckDue();
    List<LbService> all = new ArrayList<>();
    try {
      for (IpFamily family : clusterCidrs.families()) {
        ProxyNode ofFamily =
            new ProxyNode(
                node.nodeName(),
                clusterCidrs.of(family).orElseThrow().toString(),
                node.nodeIps().stream().filter(ip -> IpFamily.of(ip) == family).toList());
        all.addAll(syncServices(family, ofFamily, graph.servicePorts(family), full));
      }
    } catch (RuntimeException e) {
      servicePacer.failed();
      throw e;
    }
    servicePacer.succeeded(full);
    services = all.size();
    flows.services(all);
  }

  /** One family's services; what its maps now hold. */
  private Collection<LbService> syncServices(
      IpFamily family, ProxyNode node, ServicePortIndex ports, boolean full) {
    // The changes are taken now: a pass that fails is followed by a full one.
    Map<String, List<ServicePort>> changes = ports.drainChanges();
    ServiceLbCalculator lbCalc = lbCalcs.get(family);
    if (lbCalc == null || !node.equals(lbNodes.get(family))) {
      // The ids already in the maps (a previous agent's) are kept: a restart rewrites nothing.
      lbCalc = new ServiceLbCalculator(node);
      lbCalc.adopt(driver.servicesInMaps(family));
      lbCalcs.put(family, lbCalc);
      lbNodes.put(family, node);
      full = true;
    }
    String nodeIp = node.nodeIps().isEmpty() ? "" : node.nodeIps().getFirst();
    if (full) {
      driver.applyServices(family, nodeIp, lbCalc.calculate(ports.ports()), true);
    } else {
      driver.applyServiceChanges(family, nodeIp, lbCalc.update(changes), lbCalc.services());
    }
    return lbCalc.services().values();
  }

  /** The periodic check with nothing new: the last intent against the kernel. */
  private void verify() {
    write(last, true);
  }

  private void write(EbpfIntent intent, boolean periodic) {
    long now = System.nanoTime();
    boolean readEndpoints = periodic && now - lastMapCheck > MAP_CHECK_NANOS;
    boolean readPolicyMaps = periodic && now - lastPolicyMapCheck > POLICY_MAP_CHECK_NANOS;
    // The flag is cleared before the hooks are asked: a change announced while they are is seen
    // by the next check.
    boolean verifyHooks =
        readEndpoints && (now - lastHookCheck > HOOK_CHECK_NANOS || tcMoved.getAndSet(false));
    driver.apply(intent, verifyHooks, readEndpoints, readPolicyMaps);
    if (readEndpoints) {
      lastMapCheck = now;
    }
    if (readPolicyMaps) {
      lastPolicyMapCheck = now;
    }
    if (verifyHooks && now - lastHookCheck > HOOK_CHECK_NANOS) {
      lastHookCheck = now;
    }
  }

  @Override
  public int servicePorts() {
    return services;
  }

  /** The entries last written to the endpoint, IP cache and policy maps. */
  private Map<String, Long> mapSizes() {
    EbpfIntent i = last;
    return Map.of(
        "ebpf_endpoints",
        (long) i.endpoints().size(),
        "ebpf_ipcache_entries",
        (long) i.ipcache().size(),
        "ebpf_policy_entries",
        (long) i.policySize());
  }

  /** What status shows: loaded or why not, the map sizes, packets forwarded and dropped. */
  private ObjectNode status() {
    ObjectNode n = Json.object();
    n.put("loaded", driver.loaded());
    n.put("loadError", driver.loadError());
    EbpfIntent i = last;
    n.put("endpoints", i.endpoints().size());
    n.put("ipcache", i.ipcache().size());
    n.put("policyEntries", i.policySize());
    n.put("servicePorts", services);
    ObjectNode counts = n.putObject("packets");
    driver.counts().forEach(counts::put);
    return n;
  }

  @Override
  public void close() {
    tcMonitor.close();
    conntrackGc.shutdownNow();
    try {
      conntrackGc.awaitTermination(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (events != null) {
      events.close();
    }
    driver.close();
  }
}
