package dev.tweed.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tweed.datastore.Datastore;
import dev.tweed.datastore.Entry;
import dev.tweed.lab.Lab;
import dev.tweed.lab.LabLayout;
import dev.tweed.lab.LabNetconf;
import dev.tweed.lab.LabProcesses;
import dev.tweed.lab.LabResources;
import dev.tweed.lab.LabState;
import dev.tweed.lab.ProbeClient;
import dev.tweed.lab.ProbeResult;
import dev.tweed.model.Json;
import dev.tweed.model.NodeResource;
import dev.tweed.model.PodResource;
import dev.tweed.model.ResourceKey;
import dev.tweed.sys.NetworkNamespace;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code tweed lab ...}: the virtual cluster. */
@Command(name = "lab", description = "A virtual multi-node cluster made of network namespaces.")
public final class LabCommand {

  static Lab requireLab(LabOption opt) {
    Lab lab = new Lab(opt.layout(), System.out);
    if (!Files.exists(opt.layout().stateFile())) {
      throw new IllegalStateException(
          "lab '" + opt.layout().name() + "' is not up; run 'tweed lab up'");
    }
    return lab;
  }

  static Datastore store(Lab lab) {
    return dev.tweed.lab.LabStores.open(lab.layout());
  }

  @Command(name = "up", description = "Build the lab and start its agents.")
  static final class Up implements Callable<Integer> {
    @Mixin LabOption lab;

    @Option(names = "--nodes", defaultValue = "3", description = "Number of nodes (default 3).")
    int nodes;

    @Option(
        names = "--routing",
        defaultValue = "vxlan",
        description = "Cross-node routing: vxlan (overlay) | bgp (BIRD, no encapsulation).")
    String routing;

    @Option(
        names = "--route-reflectors",
        defaultValue = "0",
        description =
            "With --routing bgp: the first N nodes reflect routes (default 0: full mesh).")
    int routeReflectors;

    @Option(
        names = "--proxy",
        defaultValue = "iptables",
        description =
            "Service proxy of the standard dataplane: iptables | nftables (the eBPF dataplane"
                + " load-balances Services in its programs).")
    String proxy;

    @Option(
        names = "--dataplane",
        defaultValue = "standard",
        description =
            "Pods' datapath: standard (routing and netfilter) | ebpf (tc programs and maps).")
    String dataplane;

    @Option(
        names = "--datastore",
        defaultValue = "embedded",
        description =
            "Where the lab keeps its state: embedded (a journal) | etcd (a real cluster).")
    String datastore;

    @Option(
        names = "--etcd-members",
        description = "With --datastore etcd: members, one per namespace (default 3).")
    Integer etcdMembers;

    @Option(
        names = {"-f", "--filename"},
        description = "Resources to apply once the lab is up.")
    Path file;

    @Option(
        names = "--monitoring",
        description =
            "Also run Prometheus in the router's namespace, scraping every agent (tweed lab"
                + " metrics --query PROMQL asks it).")
    boolean monitoring;

    @Override
    public Integer call() throws Exception {
      Lab l = new Lab(lab.layout(), System.out);
      if (file != null) {
        LabResources.read(file); // refuse a bad file before building anything
      }
      try {
        int members = etcdMembers != null ? etcdMembers : datastore.equals("etcd") ? 3 : 0;
        l.up(nodes, routing, proxy, routeReflectors, datastore, members, dataplane);
        if (monitoring) {
          new dev.tweed.lab.LabMetrics(lab.layout()).startMonitoring();
          System.out.printf("Prometheus scrapes every agent: tweed lab metrics --query 'up'%n");
        }
      } catch (IllegalStateException alreadyUp) {
        throw alreadyUp;
      } catch (Exception e) {
        System.err.println("lab up failed: " + e.getMessage() + "; cleaning up");
        l.down();
        throw e;
      }
      if (file != null) {
        Apply.applyAndWait(l, file);
      }
      System.out.println(
          "lab '"
              + lab.layout().name()
              + "' is up. Explore: tweed lab get pods | tweed lab probe --from NS/POD --to NS/POD; tear down: tweed lab down");
      return 0;
    }
  }

  @Command(name = "down", description = "Remove every namespace, process and file of the lab.")
  static final class Down implements Callable<Integer> {
    @Mixin LabOption lab;

    @Override
    public Integer call() throws Exception {
      new Lab(lab.layout(), System.out).down();
      return 0;
    }
  }

  @Command(name = "apply", description = "Create or update resources from Kubernetes YAML.")
  static final class Apply implements Callable<Integer> {
    @Mixin LabOption lab;

    @Option(
        names = {"-f", "--filename"},
        required = true)
    Path file;

    @Option(
        names = "--wait",
        defaultValue = "90",
        description = "Seconds to wait for pods to run (0: don't).")
    int waitSeconds;

    @Override
    public Integer call() throws Exception {
      Lab l = requireLab(lab);
      return applyAndWait(l, file, waitSeconds);
    }

    static int applyAndWait(Lab l, Path file) throws Exception {
      return applyAndWait(l, file, 90);
    }

    static int applyAndWait(Lab l, Path file, int waitSeconds) throws Exception {
      List<ObjectNode> objects = LabResources.read(file);
      try (Datastore store = store(l)) {
        List<String> results;
        try {
          results = new LabResources(store).apply(objects);
        } catch (dev.tweed.lab.InvalidResourceException e) {
          System.err.println("error: " + e.getMessage() + " (nothing was applied)");
          return 1;
        }
        results.forEach(System.out::println);
        List<String> podKeys =
            objects.stream()
                .filter(o -> "Pod".equals(o.path("kind").asText()))
                .map(o -> LabResources.keyOf(o).toString())
                .toList();
        if (waitSeconds > 0 && !podKeys.isEmpty()) {
          return awaitRunning(store, podKeys, Duration.ofSeconds(waitSeconds)) ? 0 : 1;
        }
      }
      return 0;
    }

    static boolean awaitRunning(Datastore store, List<String> keys, Duration timeout) {
      long deadline = System.nanoTime() + timeout.toNanos();
      while (true) {
        List<String> pending = new ArrayList<>();
        for (String k : keys) {
          Optional<Entry> e = store.get(k);
          if (e.isEmpty() || !"Running".equals(PodResource.from(e.get().value()).phase())) {
            pending.add(k);
          }
        }
        if (pending.isEmpty()) {
          return true;
        }
        if (System.nanoTime() > deadline) {
          for (String k : pending) {
            String msg =
                store
                    .get(k)
                    .map(e -> e.value().path("status").path("message").asText(""))
                    .orElse("gone");
            System.err.println(
                "pod "
                    + ResourceKey.parse(k).qualifiedName()
                    + " is not running"
                    + (msg.isEmpty() ? "" : ": " + msg));
          }
          return false;
        }
        LabProcesses.sleep(100);
      }
    }
  }

  @Command(name = "delete", description = "Delete the resources named in a YAML file.")
  static final class Delete implements Callable<Integer> {
    @Mixin LabOption lab;

    @Option(
        names = {"-f", "--filename"},
        required = true)
    Path file;

    @Override
    public Integer call() throws Exception {
      Lab l = requireLab(lab);
      List<ObjectNode> objects = LabResources.read(file);
      try (Datastore store = store(l)) {
        new LabResources(store).delete(objects).forEach(System.out::println);
        long deadline = System.nanoTime() + 60_000_000_000L;
        for (ObjectNode o : objects) {
          if ("Pod".equals(o.path("kind").asText())) {
            String k = LabResources.keyOf(o).toString();
            while (store.get(k).isPresent()) {
              if (System.nanoTime() > deadline) {
                System.err.println("pod " + k + " is still terminating");
                return 1;
              }
              LabProcesses.sleep(100);
            }
          }
        }
      }
      return 0;
    }
  }

  @Command(name = "get", description = "List nodes, pods or services (like kubectl get).")
  static final class Get implements Callable<Integer> {
    @Mixin LabOption lab;

    @Parameters(index = "0", paramLabel = "KIND", description = "nodes | pods | services")
    String what;

    @Option(
        names = {"-o", "--output"},
        description = "json")
    String output;

    @Override
    public Integer call() throws Exception {
      Lab l = requireLab(lab);
      String kind =
          switch (what) {
            case "nodes", "node", "no" -> "Node";
            case "pods", "pod", "po" -> "Pod";
            case "services", "service", "svc" -> "Service";
            case "namespaces", "namespace", "ns" -> "Namespace";
            case "endpointslices", "endpointslice" -> "EndpointSlice";
            default ->
                throw new IllegalArgumentException(
                    "unknown kind '"
                        + what
                        + "' (nodes, pods, services, endpointslices, namespaces)");
          };
      try (Datastore store = store(l)) {
        List<Entry> entries = store.list(ResourceKey.kindPrefix(kind)).entries();
        if ("json".equals(output)) {
          ObjectNode list = Json.object();
          list.put("apiVersion", "v1");
          list.put("kind", "List");
          ArrayNode items = list.putArray("items");
          entries.forEach(e -> items.add(e.value()));
          System.out.println(Json.pretty(list));
          return 0;
        }
        List<String[]> rows = new ArrayList<>();
        switch (kind) {
          case "Node" -> {
            rows.add(new String[] {"NAME", "STATUS", "INTERNAL-IP", "AGENT"});
            for (Entry e : entries) {
              NodeResource n = NodeResource.from(e.value());
              boolean ready = l.agentReady(n.name());
              rows.add(
                  new String[] {
                    n.name(),
                    ready ? "Ready" : "NotReady",
                    n.internalIp(),
                    ready ? "ready" : "not ready"
                  });
            }
          }
          case "Pod" -> {
            rows.add(new String[] {"NAMESPACE", "NAME", "STATUS", "IP", "NODE"});
            for (Entry e : entries) {
              PodResource p = PodResource.from(e.value());
              rows.add(
                  new String[] {
                    p.namespace(),
                    p.name(),
                    p.deleting() ? "Terminating" : p.phase(),
                    p.podIp().orElse("<none>"),
                    p.nodeName().orElse("<none>")
                  });
            }
          }
          case "Service" -> {
            rows.add(
                new String[] {"NAMESPACE", "NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)"});
            for (Entry e : entries) {
              JsonNode s = e.value();
              List<String> ports = new ArrayList<>();
              s.path("spec")
                  .path("ports")
                  .forEach(
                      p ->
                          ports.add(
                              p.path("port").asText()
                                  + (p.path("nodePort").asInt(0) != 0
                                      ? ":" + p.path("nodePort").asText()
                                      : "")
                                  + "/"
                                  + p.path("protocol").asText("TCP")));
              rows.add(
                  new String[] {
                    s.path("metadata").path("namespace").asText(),
                    s.path("metadata").path("name").asText(),
                    s.path("spec").path("type").asText("ClusterIP"),
                    s.path("spec").path("clusterIP").asText("<pending>"),
                    externalIps(s),
                    String.join(",", ports)
                  });
            }
          }
          case "EndpointSlice" -> {
            rows.add(new String[] {"NAMESPACE", "NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS"});
            for (Entry e : entries) {
              JsonNode s = e.value();
              List<String> ports = new ArrayList<>();
              s.path("ports").forEach(p -> ports.add(p.path("port").asText()));
              List<String> eps = new ArrayList<>();
              s.path("endpoints")
                  .forEach(ep -> ep.path("addresses").forEach(a -> eps.add(a.asText())));
              rows.add(
                  new String[] {
                    s.path("metadata").path("namespace").asText(),
                    s.path("metadata").path("name").asText(),
                    s.path("addressType").asText(),
                    ports.isEmpty() ? "<unset>" : String.join(",", ports),
                    eps.isEmpty() ? "<unset>" : String.join(",", eps)
                  });
            }
          }
          default -> {
            rows.add(new String[] {"NAME", "STATUS"});
            for (Entry e : entries) {
              rows.add(
                  new String[] {
                    e.value().path("metadata").path("name").asText(),
                    e.value().path("status").path("phase").asText("Active")
                  });
            }
          }
        }
        Tables.print(rows);
      }
      return 0;
    }
  }

  /** kubectl's EXTERNAL-IP column: load-balancer ingress and external IPs, or none/pending. */
  static String externalIps(JsonNode svc) {
    List<String> ips = new ArrayList<>();
    svc.path("status")
        .path("loadBalancer")
        .path("ingress")
        .forEach(i -> ips.add(i.path("ip").asText()));
    svc.path("spec").path("externalIPs").forEach(i -> ips.add(i.asText()));
    if (!ips.isEmpty()) {
      return String.join(",", ips);
    }
    return "LoadBalancer".equals(svc.path("spec").path("type").asText()) ? "<pending>" : "<none>";
  }

  @Command(name = "exec", description = "Run a command in a pod's network namespace.")
  static final class Exec implements Callable<Integer> {
    @Mixin LabOption lab;

    @Parameters(index = "0", paramLabel = "NAMESPACE/POD")
    String pod;

    @Parameters(index = "1..*", paramLabel = "COMMAND")
    List<String> command;

    @Override
    public Integer call() throws Exception {
      Lab l = requireLab(lab);
      try (Datastore store = store(l)) {
        return execIn(PodLookup.netnsOf(l, store, pod), command);
      }
    }
  }

  static int execIn(String netns, List<String> command) throws Exception {
    List<String> argv = new ArrayList<>(List.of("ip", "netns", "exec", netns));
    argv.addAll(command);
    return new ProcessBuilder(argv).inheritIO().start().waitFor();
  }

  @Command(name = "node-exec", description = "Run a command in a node's network namespace.")
  static final class NodeExec implements Callable<Integer> {
    @Mixin LabOption lab;

    @Parameters(index = "0", paramLabel = "NODE")
    String node;

    @Parameters(index = "1..*", paramLabel = "COMMAND")
    List<String> command;

    @Override
    public Integer call() throws Exception {
      Lab l = requireLab(lab);
      PodLookup.requireNode(l, node);
      return execIn(l.layout().nodeNs(node), command);
    }
  }

  @Command(name = "status", description = "Show each node's agent health.")
  static final class Status implements Callable<Integer> {
    @Mixin LabOption lab;

    @Option(
        names = {"-o", "--output"},
        description = "json")
    String output;

    @Override
    public Integer call() throws Exception {
      Lab l = requireLab(lab);
      LabState state = LabState.read(l.layout()).orElseThrow();
      List<String[]> rows = new ArrayList<>();
      rows.add(
          new String[] {
            "NODE", "AGENT", "PID", "READY", "REVISION", "RECONCILES", "REPAIRS", "LAST-ERROR"
          });
      ArrayNode json = Json.MAPPER.createArrayNode();
      boolean allReady = true;
      for (int i = 1; i <= state.nodes(); i++) {
        String node = LabLayout.nodeName(i);
        long pid = state.pids().getOrDefault("agent/" + node, 0L);
        boolean running =
            LabProcesses.isRunning(pid) && LabProcesses.isOurs(pid, "lab=" + l.layout().name());
        Optional<String> h = l.agentHealth(node);
        JsonNode hj = h.map(Json::parse).orElse(Json.object());
        boolean ready = hj.path("ready").asBoolean(false);
        allReady &= ready;
        rows.add(
            new String[] {
              node,
              running ? "running" : "stopped",
              String.valueOf(pid),
              ready ? "yes" : "no",
              hj.path("datastoreRevision").asText("-"),
              hj.path("reconciles").asText("-"),
              hj.path("repairs").asText("-"),
              hj.path("lastError").asText("")
            });
        ObjectNode o = json.addObject();
        o.put("node", node).put("running", running).put("pid", pid).put("ready", ready);
        o.set("health", hj);
      }
      if ("json".equals(output)) {
        System.out.println(Json.pretty(json));
      } else {
        Tables.print(rows);
      }
      return allReady ? 0 : 1;
    }
  }

  @Command(
      name = "capture",
      description = "Capture every namespace of the lab into DIR (for tweed trace --dump).")
  static final class Capture implements Callable<Integer> {
    @Mixin LabOption lab;

    @Option(names = "--out", required = true)
    java.nio.file.Path out;

    @Override
    public Integer call() throws Exception {
      Lab l = requireLab(lab);
      try (Datastore store = store(l)) {
        dev.tweed.lab.LabCapture.write(l.layout(), store, out);
      }
      System.out.println("captured lab '" + l.layout().name() + "' into " + out);
      return 0;
    }
  }

  @Command(name = "agent", description = "Manage a node's agent.")
  static final class AgentCmd {}

  @Command(name = "node", description = "Fail and restore a node.")
  static final class NodeCmd {}

  @Command(
      name = "stop",
      description =
          "The node fails: its underlay link goes down, its agent (and BIRD) stop; its pods stay.")
  static final class NodeStop implements Callable<Integer> {
    @Mixin LabOption lab;

    @Parameters(index = "0", paramLabel = "NODE")
    String node;

    @Override
    public Integer call() {
      Lab l = requireLab(lab);
      PodLookup.requireNode(l, node);
      l.stopNode(LabState.read(l.layout()).orElseThrow(), node);
      System.out.println("node " + node + " stopped (link down, agent stopped)");
      return 0;
    }
  }

  @Command(name = "start", description = "Bring a stopped node back: link up, agent started.")
  static final class NodeStart implements Callable<Integer> {
    @Mixin LabOption lab;

    @Parameters(index = "0", paramLabel = "NODE")
    String node;

    @Override
    public Integer call() {
      Lab l = requireLab(lab);
      PodLookup.requireNode(l, node);
      l.startNode(LabState.read(l.layout()).orElseThrow(), node);
      System.out.println("node " + node + " started");
      return 0;
    }
  }

  @Command(
      name = "restart",
      description = "Restart a node's agent (--kill: SIGKILL first, as a crash).")
  static final class AgentRestart implements Callable<Integer> {
    @Mixin LabOption lab;

    @Parameters(index = "0", paramLabel = "NODE")
    String node;

    @Option(names = "--kill", description = "SIGKILL instead of SIGTERM.")
    boolean kill;

    @Override
    public Integer call() throws Exception {
      Lab l = requireLab(lab);
      PodLookup.requireNode(l, node);
      LabState state = LabState.read(l.layout()).orElseThrow();
      long pid = state.pids().getOrDefault("agent/" + node, 0L);
      LabProcesses.stop(pid, "lab=" + l.layout().name(), kill);
      state = l.startAgent(state, node);
      l.awaitAgentReady(node, System.nanoTime() + 60_000_000_000L);
      System.out.println(
          "agent on "
              + node
              + " restarted (pid "
              + pid
              + " -> "
              + state.pids().get("agent/" + node)
              + ")");
      return 0;
    }
  }

  @Command(name = "netconf", description = "Print the CNI network configuration for pods on NODE.")
  static final class Netconf implements Callable<Integer> {
    @Mixin LabOption lab;

    @Parameters(index = "0", paramLabel = "NODE")
    String node;

    @Option(
        names = "--conflist",
        description = "print a configuration list, as runtimes read it from their directory")
    boolean conflist;

    @Override
    public Integer call() throws Exception {
      Lab l = requireLab(lab);
      PodLookup.requireNode(l, node);
      System.out.println(
          Json.pretty(
              conflist
                  ? LabNetconf.conflistForNode(l.layout(), node)
                  : LabNetconf.forNode(l.layout(), node)));
      return 0;
    }
  }

  @Command(name = "probe", description = "Probe with real traffic from a pod to a pod or IP.")
  static final class Probe implements Callable<Integer> {
    @Mixin LabOption lab;

    @Option(names = "--from", required = true, paramLabel = "NS/POD|router")
    String from;

    @Option(names = "--to", required = true, paramLabel = "NS/POD|IP")
    String to;

    @Option(names = "--port", defaultValue = "80")
    int port;

    @Option(names = "--proto", defaultValue = "tcp", description = "tcp | udp")
    String proto;

    @Option(names = "--timeout", defaultValue = "2000", description = "Milliseconds.")
    long timeoutMillis;

    @Option(
        names = "--client-ip",
        description = "Print the source address the answering pod saw (UDP).")
    boolean clientIp;

    @Option(
        names = {"-o", "--output"},
        description = "json")
    String output;

    @Override
    public Integer call() throws Exception {
      if (!proto.equals("tcp") && !proto.equals("udp")) {
        throw new IllegalArgumentException("--proto must be tcp or udp");
      }
      Lab l = requireLab(lab);
      String fromNs;
      String ip;
      try (Datastore store = store(l)) {
        fromNs = from.equals("router") ? l.layout().routerNs() : PodLookup.netnsOf(l, store, from);
        ip = to.contains("/") ? PodLookup.ipOf(store, to) : to;
      }
      if (clientIp && !proto.equals("udp")) {
        throw new IllegalArgumentException("--client-ip needs --proto udp");
      }
      ProbeResult r =
          clientIp
              ? ProbeClient.clientIp(
                  NetworkNamespace.pathOf(fromNs), ip, port, Duration.ofMillis(timeoutMillis))
              : ProbeClient.probe(
                  NetworkNamespace.pathOf(fromNs),
                  ip,
                  port,
                  proto,
                  Duration.ofMillis(timeoutMillis));
      if ("json".equals(output)) {
        ObjectNode o = Json.object();
        o.put("from", from)
            .put("to", to)
            .put("ip", ip)
            .put("port", port)
            .put("protocol", proto)
            .put("connected", r.connected())
            .put("answer", r.answer())
            .put("reason", r.reason())
            .put("millis", Math.round(r.millis() * 1000) / 1000.0);
        System.out.println(Json.write(o));
      } else if (r.connected()) {
        System.out.println(r.answer());
      } else {
        System.out.println(r.reason());
      }
      return r.connected() ? 0 : 1;
    }
  }
}
