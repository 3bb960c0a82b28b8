package dev.tweed.lab.service;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tweed.datastore.Datastore;
import dev.tweed.datastore.Entry;
import dev.tweed.datastore.EtcdDatastore;
import dev.tweed.kernel.Packet;
import dev.tweed.lab.EtcdCluster;
import dev.tweed.lab.InvalidResourceException;
import dev.tweed.lab.Lab;
import dev.tweed.lab.LabCapture;
import dev.tweed.lab.LabFlows;
import dev.tweed.lab.LabLayout;
import dev.tweed.lab.LabProcesses;
import dev.tweed.lab.LabResources;
import dev.tweed.lab.LabState;
import dev.tweed.lab.LabStores;
import dev.tweed.lab.LabTraceVerifier;
import dev.tweed.lab.ProbeClient;
import dev.tweed.lab.ProbeResult;
import dev.tweed.lab.ReachabilityMatrix;
import dev.tweed.lab.ReachabilityProbe;
import dev.tweed.model.IpAddress;
import dev.tweed.model.IpFamilies;
import dev.tweed.model.IpFamily;
import dev.tweed.model.Json;
import dev.tweed.model.NodeResource;
import dev.tweed.model.PodResource;
import dev.tweed.model.ResourceKey;
import dev.tweed.policy.InvalidPolicyException;
import dev.tweed.policy.NetworkPolicy;
import dev.tweed.policy.NetworkPolicyParser;
import dev.tweed.sys.NetworkNamespace;
import dev.tweed.trace.JourneyReport;
import dev.tweed.trace.Outcome;
import dev.tweed.trace.TraceWorld;
import dev.tweed.trace.Tracer;
import dev.tweed.trace.verify.JourneyCheck;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;
import java.util.stream.IntStream;

/**
 * What a user can do with a lab that is up, for the CLI and the HTTP API alike. Each call opens the
 * lab's datastore for as long as it needs it, so a long-lived instance (the web view's) always sees
 * the lab as it is now.
 */
public final class LabService {
  /** Kernel verification traces every lab namespace: two at once would see each other's packets. */
  private static final ReentrantLock VERIFYING = new ReentrantLock();

  private final Lab lab;

  private LabService(Lab lab) {
    this.lab = lab;
  }

  /** The lab of that layout, which must be up. */
  public static LabService of(LabLayout layout) {
    if (!Files.exists(layout.stateFile())) {
      throw new LabNotFoundException(
          "lab '" + layout.name() + "' is not up; run 'tweed lab up --lab " + layout.name() + "'");
    }
    return new LabService(new Lab(layout, System.out));
  }

  public Lab lab() {
    return lab;
  }

  public LabLayout layout() {
    return lab.layout();
  }

  public LabState state() {
    return LabState.read(layout())
        .orElseThrow(() -> new LabNotFoundException("lab '" + layout().name() + "' is not up"));
  }

  /** The lab's datastore, open; the caller closes it. */
  public Datastore store() {
    return LabStores.open(layout());
  }

  /** The kind a user typed ({@code pods}, {@code svc}, ...) as the datastore names it. */
  public static String kind(String word) {
    return switch (word) {
      case "nodes", "node", "no" -> NodeResource.KIND;
      case "pods", "pod", "po" -> PodResource.KIND;
      case "services", "service", "svc" -> "Service";
      case "namespaces", "namespace", "ns" -> "Namespace";
      case "endpointslices", "endpointslice" -> "EndpointSlice";
      case "networkpolicies", "networkpolicy", "netpol" -> "NetworkPolicy";
      default ->
          throw new IllegalArgumentException(
              "unknown kind '"
                  + word
                  + "' (nodes, pods, services, endpointslices, namespaces, networkpolicies)");
    };
  }

  /** The stored objects of a kind, as the datastore holds them. */
  public List<JsonNode> get(String kind) {
    try (Datastore store = store()) {
      return values(store, kind);
    }
  }

  /** {@code kubectl get -o json}'s shape: {@code {"apiVersion": "v1", "kind": "List", ...}}. */
  public static ObjectNode list(List<JsonNode> items) {
    ObjectNode list = Json.object();
    list.put("apiVersion", "v1");
    list.put("kind", "List");
    list.putArray("items").addAll(items);
    return list;
  }

  /** One stored object ({@code namespace} empty for cluster-scoped kinds). */
  public JsonNode getOne(String kind, String namespace, String name) {
    ResourceKey key =
        namespace.isEmpty()
            ? ResourceKey.cluster(kind, name)
            : ResourceKey.namespaced(kind, namespace, name);
    try (Datastore store = store()) {
      return store
          .get(key.toString())
          .map(Entry::value)
          .orElseThrow(
              () ->
                  new LabNotFoundException(
                      kind
                          + " "
                          + (namespace.isEmpty() ? "" : namespace + "/")
                          + name
                          + " not found"));
    }
  }

  /** What applying or deleting did, object by object, and the pods still not as asked. */
  public record ChangeResult(List<String> results, List<String> pending) {
    public boolean complete() {
      return pending.isEmpty();
    }
  }

  /**
   * Creates or updates the objects, all or none ({@link InvalidResourceException} changes nothing),
   * then waits up to {@code wait} for their pods to run.
   */
  public ChangeResult apply(List<ObjectNode> objects, Duration wait)
      throws InvalidResourceException {
    try (Datastore store = store()) {
      List<String> results = LabResources.of(store, layout()).apply(objects);
      List<String> pods = podKeys(objects);
      List<String> pending =
          wait.isZero() ? List.of() : awaitPods(store, pods, wait, PodWait.RUNNING);
      return new ChangeResult(results, pending);
    }
  }

  /** Deletes the objects named, then waits up to {@code wait} for their pods to be gone. */
  public ChangeResult delete(List<ObjectNode> objects, Duration wait)
      throws InvalidResourceException {
    try (Datastore store = store()) {
      List<String> results = LabResources.of(store, layout()).delete(objects);
      List<String> pending = awaitPods(store, podKeys(objects), wait, PodWait.GONE);
      return new ChangeResult(results, pending);
    }
  }

  private enum PodWait {
    RUNNING,
    GONE
  }

  private static List<String> podKeys(List<ObjectNode> objects) {
    return objects.stream()
        .filter(o -> PodResource.KIND.equals(o.path("kind").asText()))
        .map(o -> LabResources.keyOf(o).toString())
        .toList();
  }

  /** The pods (by key) not yet as {@code until} wants when the time ran out, each with why. */
  private static List<String> awaitPods(
      Datastore store, List<String> keys, Duration timeout, PodWait until) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      List<String> pending = new ArrayList<>();
      for (String k : keys) {
        Optional<Entry> e = store.get(k);
        boolean done =
            switch (until) {
              case RUNNING ->
                  e.isPresent() && "Running".equals(PodResource.from(e.get().value()).phase());
              case GONE -> e.isEmpty();
            };
        if (!done) {
          pending.add(k);
        }
      }
      if (pending.isEmpty() || System.nanoTime() > deadline) {
        return pending.stream().map(k -> pendingReason(store, k, until)).toList();
      }
      LabProcesses.sleep(100);
    }
  }

  private static String pendingReason(Datastore store, String key, PodWait until) {
    String pod = ResourceKey.parse(key).qualifiedName();
    if (until == PodWait.GONE) {
      return "pod " + pod + " is still terminating";
    }
    String msg =
        store.get(key).map(e -> e.value().path("status").path("message").asText("")).orElse("gone");
    return "pod " + pod + " is not running" + (msg.isEmpty() ? "" : ": " + msg);
  }

  /** A running pod by {@code NS/POD}. */
  public PodResource pod(Datastore store, String ref) {
    int slash = ref.indexOf('/');
    if (slash <= 0 || slash == ref.length() - 1) {
      throw new IllegalArgumentException("expected NAMESPACE/POD, got '" + ref + "'");
    }
    String key =
        ResourceKey.namespaced(PodResource.KIND, ref.substring(0, slash), ref.substring(slash + 1))
            .toString();
    Entry e =
        store.get(key).orElseThrow(() -> new LabNotFoundException("pod " + ref + " not found"));
    PodResource p = PodResource.from(e.value());
    if (!"Running".equals(p.phase()) || p.podIp().isEmpty()) {
      throw new IllegalStateException("pod " + ref + " is not running (" + p.phase() + ")");
    }
    return p;
  }

  /** The network namespace of a running pod ({@code NS/POD}). */
  public String netnsOf(Datastore store, String ref) {
    return layout().netnsOf(pod(store, ref));
  }

  /** A node by name, which must exist. */
  public void requireNode(String node) {
    try (Datastore store = store()) {
      if (store.get(ResourceKey.cluster(NodeResource.KIND, node).toString()).isEmpty()) {
        throw new LabNotFoundException("node '" + node + "' does not exist");
      }
    }
  }

  /** The node fails: its underlay link goes down and its agent (and BIRD) stop; its pods stay. */
  public void stopNode(String node) {
    requireNode(node);
    lab.stopNode(state(), node);
  }

  /** A stopped node comes back: link up, agent started. */
  public void startNode(String node) {
    requireNode(node);
    lab.startNode(state(), node);
  }

  /** An agent restarted: its process id before and after. */
  public record AgentRestart(long before, long after) {}

  /** Stops a node's agent ({@code kill}: SIGKILL, as a crash) and starts it again, ready. */
  public AgentRestart restartAgent(String node, boolean kill) {
    requireNode(node);
    LabState state = state();
    long pid = state.pids().getOrDefault("agent/" + node, 0L);
    LabProcesses.stop(pid, "lab=" + layout().name(), kill);
    state = lab.startAgent(state, node);
    lab.awaitAgentReady(node, System.nanoTime() + 60_000_000_000L);
    return new AgentRestart(pid, state.pids().get("agent/" + node));
  }

  /** Real traffic from a pod (or the router) to a pod or an address. */
  public ProbeAnswer probe(ProbeRequest r) throws Exception {
    String fromNs;
    String ip;
    try (Datastore store = store()) {
      fromNs = r.from().equals("router") ? layout().routerNs() : netnsOf(store, r.from());
      ip = r.to().contains("/") ? podAddress(pod(store, r.to()), r.family()) : address(r.to(), r);
    }
    ProbeResult result =
        r.clientIp()
            ? ProbeClient.clientIp(NetworkNamespace.pathOf(fromNs), ip, r.port(), r.timeout())
            : ProbeClient.probe(
                NetworkNamespace.pathOf(fromNs), ip, r.port(), r.proto(), r.timeout());
    return new ProbeAnswer(r, ip, result);
  }

  /** The address a journey starts or ends at: the model follows IPv4 packets only yet. */
  /** A pod's address of {@code family}, or its primary one. */
  private static String traceAddress(PodResource p, Optional<IpFamily> family) {
    if (family.isEmpty()) {
      return p.podIp()
          .orElseThrow(() -> new IllegalArgumentException(p.qualifiedName() + " has no address"));
    }
    return p.podIp(family.get())
        .orElseThrow(
            () ->
                new IllegalArgumentException(
                    "pod " + p.qualifiedName() + " has no " + family.get().apiName() + " address"));
  }

  /** A pod's address of {@code family}, or its primary one. */
  private static String podAddress(PodResource p, Optional<IpFamily> family) {
    if (family.isEmpty()) {
      return p.podIp().orElseThrow();
    }
    return p.podIp(family.get())
        .orElseThrow(
            () ->
                new IllegalArgumentException(
                    "pod " + p.qualifiedName() + " has no " + family.get().apiName() + " address"));
  }

  /**
   * Every ordered pair of running pods probed at once, per family asked for, with each pod's
   * isolating policies.
   */
  public ReachabilityAnswer reachability(ReachabilityRequest r) throws Exception {
    IpFamilies ofLab = state().spec().ipFamilies();
    List<IpFamily> families = r.families().isEmpty() ? List.of(ofLab.primary()) : r.families();
    for (IpFamily f : families) {
      if (!ofLab.has(f)) {
        throw new IllegalArgumentException(
            "the lab has no " + f.apiName() + " (lab up --ip-family " + ofLab.id() + ")");
      }
    }
    Map<IpFamily, ReachabilityMatrix> matrices = new LinkedHashMap<>();
    List<PodIsolation> isolation = List.of();
    for (IpFamily f : families) {
      ReachabilityAnswer one = reachability(r, f);
      matrices.put(f, one.matrix());
      isolation = one.isolation();
    }
    return new ReachabilityAnswer(r, matrices, isolation);
  }

  private ReachabilityAnswer reachability(ReachabilityRequest r, IpFamily family) throws Exception {
    List<ReachabilityProbe.Target> targets = new ArrayList<>();
    List<PodResource> pods = new ArrayList<>();
    List<NetworkPolicy> policies;
    try (Datastore store = store()) {
      for (Entry e : store.list(ResourceKey.kindPrefix(PodResource.KIND)).entries()) {
        PodResource p = PodResource.from(e.value());
        if (!"Running".equals(p.phase()) || p.podIp(family).isEmpty() || p.deleting()) {
          continue;
        }
        if (!r.namespaces().isEmpty() && !r.namespaces().contains(p.namespace())) {
          continue;
        }
        pods.add(p);
        targets.add(
            new ReachabilityProbe.Target(
                p.qualifiedName(), layout().netnsOf(p), p.podIp(family).get()));
      }
      policies = policies(store);
    }
    targets.sort(Comparator.comparing(ReachabilityProbe.Target::name));
    pods.sort(Comparator.comparing(PodResource::qualifiedName));
    ReachabilityMatrix m = ReachabilityProbe.probe(targets, r.port(), r.proto(), r.timeout());
    List<PodIsolation> isolation = pods.stream().map(p -> isolation(p, policies)).toList();
    return new ReachabilityAnswer(r, Map.of(family, m), isolation);
  }

  private static List<NetworkPolicy> policies(Datastore store) {
    List<NetworkPolicy> out = new ArrayList<>();
    for (Entry e : store.list(ResourceKey.kindPrefix("NetworkPolicy")).entries()) {
      try {
        out.add(NetworkPolicyParser.parse(e.value()));
      } catch (InvalidPolicyException invalid) {
        // The store only holds policies that were valid when applied; skip one that is not.
      }
    }
    out.sort(Comparator.comparing(NetworkPolicy::qualifiedName));
    return out;
  }

  static PodIsolation isolation(PodResource pod, List<NetworkPolicy> policies) {
    Map<String, String> labels = labels(pod);
    List<NetworkPolicy> selecting =
        policies.stream()
            .filter(p -> p.namespace().equals(pod.namespace()))
            .filter(p -> p.podSelector().matches(labels))
            .toList();
    return new PodIsolation(
        pod.qualifiedName(),
        selecting.stream()
            .filter(p -> p.ingress().isPresent())
            .map(NetworkPolicy::qualifiedName)
            .toList(),
        selecting.stream()
            .filter(p -> p.egress().isPresent())
            .map(NetworkPolicy::qualifiedName)
            .toList());
  }

  /** The journey of one packet over the lab's state as it is now, and the kernel's word on it. */
  public TraceAnswer trace(TraceRequest r) throws Exception {
    String start;
    Packet packet;
    TraceWorld world;
    try (Datastore store = store()) {
      PodResource from = pod(store, r.from());
      start = layout().netnsOf(from);
      Optional<IpFamily> family = r.family();
      if (!r.to().contains("/")) {
        IpFamily of = IpFamily.of(address(r.to(), r.family()));
        family = Optional.of(of);
      }
      String dst =
          r.to().contains("/")
              ? traceAddress(pod(store, r.to()), family)
              : address(r.to(), r.family());
      String src = traceAddress(from, Optional.of(IpFamily.of(dst)));
      packet =
          Packet.of(
              src,
              dst,
              Packet.protocol(r.proto(), IpFamily.of(dst)),
              r.sport(),
              r.proto().equals("icmp") ? 0 : r.port());
      world = LabCapture.world(layout(), store);
    }
    Tracer tracer = new Tracer(world);
    List<Outcome> outcomes = tracer.fromLocalProcess(start, packet);
    Function<String, String> labels = world::label;
    JourneyReport report = new JourneyReport(packet, r.from(), outcomes, labels);
    if (r.pick().isPresent()) {
      report = report.pick(r.pick().get());
    }
    if (r.reply()) {
      report = report.withReplies(tracer::reply);
    }
    if (!r.verify()) {
      return new TraceAnswer(report, Optional.empty(), labels);
    }
    VERIFYING.lock();
    try (LabTraceVerifier v = LabTraceVerifier.start(layout(), Duration.ofSeconds(1))) {
      JourneyCheck.Result check = v.check(world, start, packet, outcomes, tracer::reply);
      return new TraceAnswer(report, Optional.of(check), labels);
    } finally {
      VERIFYING.unlock();
    }
  }

  /** The nodes of the lab, by name, in order. */
  public List<String> nodes() {
    return nodes(state());
  }

  private static List<String> nodes(LabState state) {
    return IntStream.rangeClosed(1, state.spec().nodes()).mapToObj(LabLayout::nodeName).toList();
  }

  /**
   * The flows recorded after {@code cursor} (per node: the last flow number seen; empty: all the
   * agents keep), filtered. The page's {@code next} is the cursor of the next call.
   */
  public LabFlows.Page flows(List<String> nodes, LabFlows.Filter filter, Map<String, Long> cursor) {
    List<String> known = nodes();
    for (String n : nodes) {
      if (!known.contains(n)) {
        throw new LabNotFoundException("no node " + n + " in lab " + layout().name());
      }
    }
    return new LabFlows(layout(), nodes).page(filter, cursor);
  }

  /** Each node's agent: running, ready, and its health report. */
  public List<AgentStatus> status() {
    return status(state());
  }

  private List<AgentStatus> status(LabState state) {
    List<AgentStatus> out = new ArrayList<>();
    for (String node : nodes(state)) {
      long pid = state.pids().getOrDefault("agent/" + node, 0L);
      boolean running =
          LabProcesses.isRunning(pid) && LabProcesses.isOurs(pid, "lab=" + layout().name());
      JsonNode health = lab.agentHealth(node).map(Json::parse).orElse(Json.object());
      out.add(new AgentStatus(node, running, pid, health.path("ready").asBoolean(false), health));
    }
    return out;
  }

  /** Each node's BGP sessions (a lab routed by BGP), sorted by peer. */
  public List<BgpSession> bgpSessions() {
    return bgpSessions(state());
  }

  private List<BgpSession> bgpSessions(LabState state) {
    if (!state.spec().bgp()) {
      throw new IllegalStateException(
          "lab '" + layout().name() + "' routes by " + state.spec().routing().id() + ", not BGP");
    }
    List<BgpSession> out = new ArrayList<>();
    for (String node : nodes(state)) {
      out.addAll(
          BgpSession.read(node, layout()).stream()
              .sorted(Comparator.comparing(BgpSession::peer))
              .toList());
    }
    return out;
  }

  /** The lab's state, which must keep its datastore in etcd. */
  public LabState requireEtcd() {
    LabState state = state();
    if (!state.spec().etcd()) {
      throw new IllegalStateException(
          "lab '" + layout().name() + "' keeps its state in the embedded store, not etcd");
    }
    return state;
  }

  /** The etcd members, their health and which one leads. */
  public List<EtcdMember> etcdMembers() {
    LabState state = requireEtcd();
    EtcdCluster cluster = EtcdCluster.ofLab(layout(), state.spec().etcdMembers());
    try (EtcdDatastore store = (EtcdDatastore) LabStores.open(layout(), state)) {
      List<EtcdDatastore.MemberStatus> status = store.memberStatus();
      // The leader is the member whose own id is the leader id that the healthy members report.
      return IntStream.range(0, status.size())
          .mapToObj(
              i -> {
                EtcdDatastore.MemberStatus s = status.get(i);
                return new EtcdMember(
                    cluster.members().get(i).name(),
                    s.endpoint(),
                    s.healthy(),
                    s.healthy() && s.memberId() != 0 && s.memberId() == s.leaderId());
              })
          .toList();
    }
  }

  /** Nodes, pods, links and Services as they are now. */
  public Topology topology() {
    LabState state = state();
    List<NodeResource> nodes;
    List<PodResource> pods;
    List<JsonNode> services;
    List<JsonNode> slices;
    try (Datastore store = store()) {
      nodes = values(store, NodeResource.KIND).stream().map(NodeResource::from).toList();
      pods =
          values(store, PodResource.KIND).stream()
              .map(PodResource::from)
              .sorted(Comparator.comparing(PodResource::qualifiedName))
              .toList();
      services = values(store, "Service");
      slices = values(store, "EndpointSlice");
    }
    return new TopologyBuilder(layout().name(), state, status(state))
        .build(nodes, pods, services, slices, state.spec().bgp() ? bgpSessions(state) : List.of());
  }

  private static List<JsonNode> values(Datastore store, String kind) {
    return store.list(ResourceKey.kindPrefix(kind)).entries().stream().map(Entry::value).toList();
  }

  /** An address to probe, of the family asked for if one was. */
  private static String address(String s, ProbeRequest r) {
    return address(s, r.family());
  }

  /** An address, of {@code family} if one is asked for. */
  private static String address(String s, Optional<IpFamily> family) {
    IpAddress a;
    try {
      a = IpAddress.parse(s);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "to must be NAMESPACE/POD or an IP address, got '" + s + "'");
    }
    if (family.isPresent() && family.get() != a.family()) {
      throw new IllegalArgumentException(
          "to " + s + " is not an " + family.get().apiName() + " address");
    }
    return a.toString();
  }

  /** Labels of a pod as a map, for callers that show them. */
  static Map<String, String> labels(PodResource p) {
    Map<String, String> out = new LinkedHashMap<>();
    p.raw()
        .path("metadata")
        .path("labels")
        .properties()
        .forEach(l -> out.put(l.getKey(), l.getValue().asText()));
    return out;
  }
}
