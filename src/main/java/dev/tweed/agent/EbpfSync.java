package dev.tweed.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tweed.calc.ClusterState;
import dev.tweed.calc.NodeDataplaneCalculator;
import dev.tweed.cni.PodAttachment;
import dev.tweed.datastore.Datastore;
import dev.tweed.ebpf.DatapathObject;
import dev.tweed.ebpf.EbpfDataplane;
import dev.tweed.ebpf.EbpfIntent;
import dev.tweed.ebpf.EbpfIntentCalculator;
import dev.tweed.ebpf.Identities;
import dev.tweed.ebpf.IdentityAllocator;
import dev.tweed.ebpf.LbService;
import dev.tweed.ebpf.ServiceLbCalculator;
import dev.tweed.model.Json;
import dev.tweed.model.WorkloadEndpoint;
import dev.tweed.policy.PolicyIntent;
import dev.tweed.policy.PolicyPod;
import dev.tweed.proxy.ProxyNode;
import dev.tweed.proxy.ServicePort;
import dev.tweed.proxy.ServicePortIndex;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The agent's eBPF datapath: identities allocated for the cluster's pods, the node's map contents
 * calculated from them and the policy intent, and the driver that writes them.
 */
final class EbpfSync implements AutoCloseable {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(EbpfSync.class);
  private final String nodeName;
  private final IdentityAllocator identities;
  private final EbpfIntentCalculator calc;
  private final EbpfDataplane driver;
  private volatile EbpfIntent last = EbpfIntent.empty();

  /** Where the programs' flow events go, once the datapath is loaded. */
  private final dev.tweed.observe.FlowRecorder flows;

  private dev.tweed.ebpf.FlowEventReader events;
  private ServiceLbCalculator lbCalc;
  private ProxyNode lbNode;
  private volatile int services;
  private final SyncPacer servicePacer = new SyncPacer();

  /** How often the maps' contents are read back to find drift. */
  private static final long MAP_CHECK_NANOS = 5_000_000_000L;

  private long lastMapCheck = System.nanoTime() - MAP_CHECK_NANOS;

  /** How often ended and idle connections are removed from the conntrack map. */
  private static final java.time.Duration CONNTRACK_GC_EVERY = java.time.Duration.ofSeconds(5);

  private final java.util.concurrent.ScheduledExecutorService conntrackGc =
      java.util.concurrent.Executors.newSingleThreadScheduledExecutor(
          Thread.ofPlatform().daemon().name("conntrack-gc").factory());

  EbpfSync(AgentConfig config, Datastore store, dev.tweed.observe.FlowRecorder flows) {
    this.flows = flows;
    this.nodeName = config.nodeName();
    this.identities = new IdentityAllocator(store);
    this.calc = new EbpfIntentCalculator(config.nodeName());
    java.nio.file.Path object =
        config.bpfObject().orElseGet(() -> DatapathObject.build(config.socket().getParent()));
    this.driver =
        new EbpfDataplane(
            object,
            config.bpfPinDir(),
            config.bgp(),
            config.serviceCidr(),
            config.bgp() ? "" : NodeDataplaneCalculator.VXLAN_DEVICE,
            "eth0",
            PodAttachment.HOST_MAC);
    conntrackGc.scheduleWithFixedDelay(
        this::collectConntrack,
        CONNTRACK_GC_EVERY.toMillis(),
        CONNTRACK_GC_EVERY.toMillis(),
        java.util.concurrent.TimeUnit.MILLISECONDS);
  }

  /** Entries in the conntrack map at the collector's last pass, and entries it removed so far. */
  private final java.util.concurrent.atomic.AtomicLong conntrackEntries =
      new java.util.concurrent.atomic.AtomicLong();

  private final java.util.concurrent.atomic.AtomicLong conntrackCollected =
      new java.util.concurrent.atomic.AtomicLong();

  long conntrackEntries() {
    return conntrackEntries.get();
  }

  long conntrackCollected() {
    return conntrackCollected.get();
  }

  private void collectConntrack() {
    try {
      driver
          .collectConntrack(dev.tweed.ebpf.ConntrackGc.Lifetimes.DEFAULTS)
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

  void sync(
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
    Map<String, String> macs = new HashMap<>();
    for (WorkloadEndpoint w : state.endpoints()) {
      if (w.node().equals(nodeName)) {
        macs.put(w.ip(), w.mac());
      }
    }
    EbpfIntent intent =
        calc.calculate(
            new EbpfIntentCalculator.Inputs(
                state.nodes(), state.blocks(), pods, namespaces, macs, ids, policy));
    write(intent, verifyAttachments);
    last = intent;
    if (events == null) {
      events = new dev.tweed.ebpf.FlowEventReader(driver.eventsFd(), flows::record);
    }
  }

  /** True when the service maps are due a comparison with the kernel (drift repair). */
  boolean servicesCheckDue() {
    return servicePacer.fullSyncDue() || servicePacer.retryPending();
  }

  /**
   * Services load-balanced by the programs: the service ports' frontends and backends written to
   * the maps, only what changed unless the periodic comparison with the kernel is due.
   */
  void syncServices(ProxyNode node, ServicePortIndex ports) {
    if (!servicePacer.mayRun()) {
      return;
    }
    // The changes are taken now: a pass that fails is followed by a full one.
    Map<String, List<ServicePort>> changes = ports.drainChanges();
    boolean full = servicePacer.fullSyncDue() || servicePacer.retryPending();
    if (lbCalc == null || !node.equals(lbNode)) {
      // The ids already in the maps (a previous agent's) are kept: a restart rewrites nothing.
      lbCalc = new ServiceLbCalculator(node);
      var pinned = driver.servicesInMaps();
      lbCalc.adopt(pinned.frontends(), pinned.backends());
      lbNode = node;
      full = true;
    }
    String nodeIp = node.nodeIps().isEmpty() ? "" : node.nodeIps().getFirst();
    try {
      if (full) {
        List<ServicePort> all = new ArrayList<>();
        ports.all().values().forEach(all::addAll);
        driver.applyServices(nodeIp, lbCalc.calculate(all), true);
      } else {
        driver.applyServiceChanges(nodeIp, lbCalc.update(changes), lbCalc.services());
      }
    } catch (RuntimeException e) {
      servicePacer.failed();
      throw e;
    }
    servicePacer.succeeded(full);
    services = lbCalc.services().size();
    Map<String, String> byFrontend = new HashMap<>();
    for (LbService s : lbCalc.services().values()) {
      String port = s.key().substring(0, s.key().lastIndexOf('/'));
      s.frontends()
          .forEach(f -> byFrontend.put(f.ip() + ":" + f.port() + "/" + f.protocol(), port));
    }
    flows.services(byFrontend);
  }

  /** The periodic check with nothing new: the last intent against the kernel. */
  void verify() {
    write(last, true);
  }

  private void write(EbpfIntent intent, boolean verifyAttachments) {
    // Reading every map entry back costs a syscall each: the maps are compared with the kernel
    // every few seconds, the hooks (one question each) on every periodic pass.
    long now = System.nanoTime();
    boolean readMaps = verifyAttachments && now - lastMapCheck > MAP_CHECK_NANOS;
    driver.apply(intent, verifyAttachments, readMaps);
    if (readMaps) {
      lastMapCheck = now;
    }
  }

  /** Packets forwarded and dropped by reason, as the programs count them. */
  Map<String, Long> packets() {
    return driver.counts();
  }

  int servicePorts() {
    return services;
  }

  /** The entries last written to the endpoint, IP cache and policy maps. */
  Map<String, Long> mapSizes() {
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
  ObjectNode status() {
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
    conntrackGc.shutdownNow();
    try {
      conntrackGc.awaitTermination(10, java.util.concurrent.TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (events != null) {
      events.close();
    }
    driver.close();
  }
}
