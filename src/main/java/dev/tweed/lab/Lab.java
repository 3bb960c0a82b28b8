package dev.tweed.lab;

import dev.tweed.cni.AgentClient;
import dev.tweed.dataplane.BirdSupervisor;
import dev.tweed.datastore.Datastore;
import dev.tweed.datastore.DatastoreKind;
import dev.tweed.datastore.EtcdDatastore;
import dev.tweed.datastore.EtcdRoles;
import dev.tweed.ebpf.DatapathObject;
import dev.tweed.model.BgpConfiguration;
import dev.tweed.model.Datapath;
import dev.tweed.model.Json;
import dev.tweed.model.NodeResource;
import dev.tweed.model.ResourceKey;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * Builds and removes a lab: the fabric (underlay bridge), the router (every node's gateway), the
 * nodes with their agents, and the lab controller. Every step is recorded before it is taken so
 * that {@link #down} removes everything, even after a crash halfway through {@link #up}.
 */
public final class Lab {
  private final LabLayout layout;
  private final PrintStream out;

  public Lab(LabLayout layout, PrintStream out) {
    this.layout = layout;
    this.out = out;
  }

  public LabLayout layout() {
    return layout;
  }

  public boolean exists() {
    return Files.exists(layout.stateFile())
        || Namespaces.list().stream().anyMatch(n -> n.startsWith(layout.prefix()));
  }

  /** Builds the lab {@code spec} describes, and waits until every agent is ready. */
  public void up(LabSpec spec) throws IOException {
    int nodes = spec.nodes();
    if (exists()) {
      throw new IllegalStateException(
          "lab '" + layout.name() + "' is already up (or left over); run 'tweed lab down' first");
    }
    LabState state = new LabState(spec, Map.of());
    state.write(layout);
    if (state.spec().ebpf()) {
      // The datapath's maps are pinned on a bpffs of the lab's own, gone with lab down.
      LabBpf.mount(layout);
      DatapathObject.build(layout.cniBinDir());
    }
    boolean v6 = LabLayout.dualStackUnderlay(spec.ipFamilies());
    buildFabric(v6);
    for (int i = 1; i <= nodes; i++) {
      buildNode(i, v6);
    }
    if (state.spec().etcd()) {
      state = startEtcd(state);
    }
    out.printf(
        "underlay %s.0/%d: router %s, %d nodes%n",
        LabLayout.UNDERLAY_PREFIX.substring(0, LabLayout.UNDERLAY_PREFIX.length() - 1),
        LabLayout.UNDERLAY_PREFIX_LENGTH,
        LabLayout.ROUTER_IP,
        nodes);
    if (v6) {
      out.printf(
          "underlay %s/%d: router %s%n",
          LabLayout.UNDERLAY6_PREFIX, LabLayout.UNDERLAY6_PREFIX_LENGTH, LabLayout.ROUTER_IP6);
    }
    CniInstaller.install(layout.cniBinDir());
    try (Datastore store = LabStores.open(layout, state)) {
      for (int i = 1; i <= nodes; i++) {
        String name = LabLayout.nodeName(i);
        NodeResource n = new NodeResource(name, LabLayout.nodeIps(name, spec.ipFamilies()));
        store.put(n.key().toString(), n.toJson());
      }
      store.put(
          ResourceKey.cluster("Namespace", "default").toString(),
          LabResources.namespace("default"));
      if (spec.bgp()) {
        List<String> reflectors = new ArrayList<>();
        for (int i = 1; i <= spec.routeReflectors(); i++) {
          reflectors.add(LabLayout.nodeName(i));
        }
        BgpConfiguration bgp = BgpConfiguration.defaults().withRouteReflectors(reflectors);
        store.put(bgp.key().toString(), bgp.toJson());
      }
    }
    for (int i = 1; i <= nodes; i++) {
      state = startAgent(state, LabLayout.nodeName(i));
    }
    long pid =
        LabProcesses.startDaemon(
            Optional.empty(),
            List.of(
                "lab-controller", "--lab", layout.name(), "--lab-marker", "lab=" + layout.name()),
            layout.logDir().resolve("controller.log"));
    state = state.withPid("controller", pid);
    state.write(layout);
    awaitAgentsReady(nodes);
    int reflectors = spec.routeReflectors();
    String mode =
        switch (spec.routing()) {
          case VXLAN -> "VXLAN overlay";
          case BGP ->
              "BGP routing by BIRD ("
                  + (reflectors == 0
                      ? "full mesh"
                      : reflectors + " route reflector" + (reflectors == 1 ? "" : "s"))
                  + ")";
        };
    out.printf(
        "agents ready on %d nodes; %s, %s, %s, %s, %s%n",
        nodes,
        String.join(
            " and ",
            LabLayout.podCidrs(spec.ipFamilies()).cidrs().stream()
                .map(c -> "pod CIDR " + c + " in /" + LabLayout.blockSize(c.family()) + " blocks")
                .toList()),
        mode,
        state.spec().ebpf() ? "eBPF datapath" : "standard datapath",
        state.spec().ebpf()
            ? "Services load-balanced in the programs"
            : spec.proxy().id() + " service proxy",
        state.spec().etcd()
            ? "state in etcd ("
                + spec.etcdMembers()
                + " member"
                + (spec.etcdMembers() == 1 ? ")" : "s)")
            : "state in the embedded store");
  }

  /** The etcd members: a namespace each on the underlay, started together, awaited healthy. */
  private LabState startEtcd(LabState state) {
    EtcdCluster cluster = EtcdCluster.ofLab(layout, state.spec().etcdMembers());
    EtcdPki.of(layout).create(cluster.members());
    for (int i = 1; i <= state.spec().etcdMembers(); i++) {
      attachToUnderlay(layout.etcdNs(i), LabLayout.etcdMemberName(i), LabLayout.etcdIp(i));
    }
    for (EtcdCluster.Member m : cluster.members()) {
      state = state.withPid("etcd/" + m.name(), cluster.start(m));
      state.write(layout);
    }
    try (var root = LabStores.etcdAs(layout, state, EtcdPki.ROOT)) {
      EtcdCluster.awaitHealthy(root, state.spec().etcdMembers(), Duration.ofSeconds(60));
      String keys = EtcdDatastore.ROOT;
      EtcdRoles.enable(
          root,
          List.of(
              EtcdRoles.controller(EtcdPki.CONTROLLER, keys), EtcdRoles.node(EtcdPki.NODE, keys)));
    }
    out.printf(
        "etcd: %d members on %s, TLS with client certificates (CA %s), authentication on%n",
        state.spec().etcdMembers(),
        String.join(",", cluster.clientUrls()),
        EtcdPki.of(layout).ca());
    return state;
  }

  /** Stops one etcd member (SIGTERM, or SIGKILL with {@code kill}); its data stays. */
  public LabState stopEtcdMember(LabState state, String member, boolean kill) {
    EtcdCluster cluster = EtcdCluster.ofLab(layout, state.spec().etcdMembers());
    EtcdCluster.Member m = cluster.member(member);
    cluster.stop(state.pids().getOrDefault("etcd/" + member, 0L), m, kill);
    LabState next = state.withoutPid("etcd/" + member);
    next.write(layout);
    return next;
  }

  /** Starts a stopped etcd member again; it rejoins from its data directory. */
  public LabState startEtcdMember(LabState state, String member) {
    EtcdCluster cluster = EtcdCluster.ofLab(layout, state.spec().etcdMembers());
    EtcdCluster.Member m = cluster.member(member);
    long old = state.pids().getOrDefault("etcd/" + member, 0L);
    if (cluster.running(old, m)) {
      throw new IllegalStateException("etcd member " + member + " is already running");
    }
    LabState next = state.withPid("etcd/" + member, cluster.start(m));
    next.write(layout);
    return next;
  }

  private void buildFabric(boolean v6) {
    Namespaces.add(layout.fabricNs());
    Namespaces.batch(
        layout.fabricNs(),
        List.of(
            "link set lo up",
            "link add " + LabLayout.BRIDGE + " type bridge",
            "link set " + LabLayout.BRIDGE + " up"));
    attachToUnderlay(layout.routerNs(), "router", LabLayout.ROUTER_IP);
    Namespaces.sysctl(layout.routerNs(), "net.ipv4.ip_forward", "1");
    // The router, the lab's "outside", answers every packet it cannot deliver with its ICMP
    // error. A kernel rate-limits them per destination (a burst of 6, then one a second), and
    // with NAT-outgoing every pod of a node is one destination to it: which probe's error is sent
    // would depend on the pace of the probes before, which no journey can know.
    Namespaces.sysctl(layout.routerNs(), "net.ipv4.icmp_ratelimit", "0");
    if (v6) {
      addUnderlay6(layout.routerNs(), LabLayout.ROUTER_IP6);
      Namespaces.sysctl(layout.routerNs(), "net.ipv6.conf.all.forwarding", "1");
      Namespaces.sysctl(layout.routerNs(), "net.ipv6.icmp.ratelimit", "0");
    }
  }

  private void buildNode(int i, boolean v6) {
    String node = LabLayout.nodeName(i);
    String ns = layout.nodeNs(node);
    attachToUnderlay(ns, node, LabLayout.nodeIp(i));
    Namespaces.batch(ns, List.of("route add default via " + LabLayout.ROUTER_IP));
    if (v6) {
      addUnderlay6(ns, LabLayout.nodeIp6(i));
      Namespaces.batch(ns, List.of("route add ::/0 via " + LabLayout.ROUTER_IP6));
    }
  }

  /**
   * The underlay's IPv6 address of a namespace already on it; without duplicate address detection,
   * which would keep the address tentative (unusable) for the first second of a lab that builds
   * every address itself.
   */
  private static void addUnderlay6(String ns, String ip) {
    Namespaces.batch(
        ns,
        List.of("addr add " + ip + "/" + LabLayout.UNDERLAY6_PREFIX_LENGTH + " dev eth0 nodad"));
  }

  /**
   * A new namespace whose {@code eth0} is plugged into the fabric bridge (as port {@code port})
   * with {@code ip} on the underlay: the router, a node, an etcd member.
   */
  private void attachToUnderlay(String ns, String port, String ip) {
    Namespaces.add(ns);
    Namespaces.batch(
        layout.fabricNs(),
        List.of(
            "link add " + port + " type veth peer name eth0 netns " + ns,
            "link set " + port + " master " + LabLayout.BRIDGE + " up"));
    Namespaces.batch(
        ns,
        List.of(
            "link set lo up",
            "addr add " + ip + "/" + LabLayout.UNDERLAY_PREFIX_LENGTH + " dev eth0",
            "link set eth0 up"));
  }

  /**
   * A node fails: its underlay link goes down first (so its peers learn it only the way they would
   * from a dead machine: BFD, hold timers, missing health checks), then its agent stops, and BIRD
   * with it. Its pods stay, unreachable.
   */
  public LabState stopNode(LabState state, String node) {
    Namespaces.batch(layout.nodeNs(node), List.of("link set eth0 down"));
    long pid = state.pids().getOrDefault("agent/" + node, 0L);
    LabProcesses.stop(pid, "lab=" + layout.name(), false);
    LabState next = state.withoutPid("agent/" + node);
    next.write(layout);
    return next;
  }

  /** Brings a stopped node back: its link, its default route, its agent. */
  public LabState startNode(LabState state, String node) {
    long running = state.pids().getOrDefault("agent/" + node, 0L);
    if (running != 0 && LabProcesses.isOurs(running, "lab=" + layout.name())) {
      // A second agent would fail on the node's metrics port while the first ran on unrecorded.
      throw new IllegalStateException(
          "node " + node + " is running (agent pid " + running + "); stop it first");
    }
    Namespaces.batch(layout.nodeNs(node), LabLayout.linkBackUp(node, state.spec().ipFamilies()));
    LabState next = startAgent(state, node);
    awaitAgentReady(node, System.nanoTime() + 60_000_000_000L);
    return next;
  }

  public LabState startAgent(LabState state, String node) {
    List<String> args = new ArrayList<>(List.of("agent", "--node", node));
    args.addAll(
        state.spec().etcd()
            ? List.of(
                "--datastore",
                DatastoreKind.ETCD.id(),
                "--etcd-endpoints",
                String.join(
                    ",", EtcdCluster.ofLab(layout, state.spec().etcdMembers()).clientUrls()),
                "--etcd-cert-file",
                EtcdPki.of(layout).cert(EtcdPki.NODE).toString(),
                "--etcd-key-file",
                EtcdPki.of(layout).key(EtcdPki.NODE).toString(),
                "--etcd-ca-file",
                EtcdPki.of(layout).ca().toString())
            : List.of("--store", layout.storeDir().toString()));
    args.addAll(
        List.of(
            "--socket",
            layout.agentSocket(node).toString(),
            "--cluster-cidr",
            LabLayout.podCidrs(state.spec().ipFamilies()).toString(),
            "--service-cidr",
            LabLayout.serviceCidrs(state.spec().ipFamilies()).toString(),
            "--proxy-mode",
            state.spec().proxy().id(),
            "--routing",
            state.spec().routing().id(),
            "--lab-marker",
            "lab=" + layout.name(),
            "--metrics-address",
            LabLayout.nodeIp(node) + ":" + LabLayout.METRICS_PORT));
    if (state.spec().ebpf()) {
      args.addAll(
          List.of(
              "--dataplane",
              Datapath.EBPF.id(),
              "--bpf-object",
              layout.cniBinDir().resolve(DatapathObject.OBJECT).toString(),
              "--bpf-pin-dir",
              LabBpf.pinDir(layout, node).toString()));
    }
    long pid =
        LabProcesses.startDaemon(
            Optional.of(layout.nodeNs(node)), args, layout.logDir().resolve(node + "-agent.log"));
    LabState next = state.withPid("agent/" + node, pid);
    next.write(layout);
    return next;
  }

  public void awaitAgentsReady(int nodes) {
    long deadline = System.nanoTime() + 60_000_000_000L;
    for (int i = 1; i <= nodes; i++) {
      awaitAgentReady(LabLayout.nodeName(i), deadline);
    }
  }

  /** Waits until the node's agent answers ready on its socket, or fails naming its log. */
  public void awaitAgentReady(String node, long deadlineNanos) {
    while (!agentReady(node)) {
      if (System.nanoTime() > deadlineNanos) {
        // The agent's own reason, when it answers at all, says more than its log's name.
        String why =
            agentHealth(node)
                .map(h -> Json.parse(h).path("lastError").asText())
                .filter(e -> !e.isEmpty())
                .map(e -> " (" + e + ")")
                .orElse("");
        throw new IllegalStateException(
            "agent on "
                + node
                + " did not become ready"
                + why
                + "; see "
                + layout.logDir().resolve(node + "-agent.log"));
      }
      LabProcesses.sleep(50);
    }
  }

  /**
   * Waits until every agent has programmed its policy rules from store revision {@code revision} or
   * later.
   */
  public void awaitPoliciesSynced(int nodes, long revision, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    for (int i = 1; i <= nodes; i++) {
      String node = LabLayout.nodeName(i);
      while (agentHealth(node).map(h -> Json.parse(h).path("policyRevision").asLong(-1)).orElse(-1L)
          < revision) {
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException(
              "agent on "
                  + node
                  + " did not program policies of revision "
                  + revision
                  + " in time");
        }
        LabProcesses.sleep(20);
      }
    }
  }

  public boolean agentReady(String node) {
    return agentHealth(node).map(h -> Json.parse(h).path("ready").asBoolean()).orElse(false);
  }

  public Optional<String> agentHealth(String node) {
    try {
      return Optional.of(AgentClient.health(layout.agentSocket(node)));
    } catch (IOException e) {
      return Optional.empty();
    }
  }

  /** Removes everything the lab made; safe to run twice and after a crash. */
  public void down() throws IOException {
    String marker = "lab=" + layout.name();
    Optional<LabState> state = LabState.read(layout);
    Set<Long> pids = new TreeSet<>(state.map(s -> s.pids().values()).orElse(List.of()));
    pids.addAll(LabProcesses.findUnrecorded(marker));
    for (long pid : pids) {
      LabProcesses.stop(pid, marker, false);
    }
    // etcd members last: the agents above no longer need them. Found by their data directories.
    Set<Long> members = new TreeSet<>(EtcdCluster.findUnder(layout.dir()));
    for (long pid : members) {
      EtcdCluster.stopLeftover(pid, layout.dir());
    }
    pids.addAll(members);
    pids.addAll(LabMetrics.stopPrometheus(layout));
    // BIRD daemons whose agent was killed before it could stop them.
    for (int i = 1; i <= state.map(s -> s.spec().nodes()).orElse(0); i++) {
      String node = LabLayout.nodeName(i);
      BirdSupervisor.stopLeftover(layout.agentSocket(node).getParent(), node);
    }
    List<String> ours =
        Namespaces.list().stream().filter(n -> n.startsWith(layout.prefix())).toList();
    // Pods first, then nodes, then the fabric: each veth disappears with the namespace of one end.
    List<String> ordered = new ArrayList<>(ours);
    ordered.sort(
        Comparator.comparingInt(n -> n.contains("-pod-") ? 0 : n.endsWith("fabric") ? 2 : 1));
    for (String ns : ordered) {
      Namespaces.delete(ns);
    }
    LabBpf.unmount(layout);
    if (Files.exists(layout.dir())) {
      try (Stream<Path> walk = Files.walk(layout.dir())) {
        for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
          Files.deleteIfExists(p);
        }
      }
    }
    out.printf(
        "lab '%s' is down: %d namespaces and %d processes removed%n",
        layout.name(), ours.size(), pids.size());
  }
}
