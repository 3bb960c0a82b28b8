package dev.tweed.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.datastore.Datastore;
import dev.tweed.datastore.DatastoreKind;
import dev.tweed.lab.InvalidResourceException;
import dev.tweed.lab.Lab;
import dev.tweed.lab.LabCapture;
import dev.tweed.lab.LabMetrics;
import dev.tweed.lab.LabNetconf;
import dev.tweed.lab.LabResources;
import dev.tweed.lab.LabSpec;
import dev.tweed.lab.ProbeResult;
import dev.tweed.lab.service.AgentStatus;
import dev.tweed.lab.service.LabService;
import dev.tweed.lab.service.ProbeAnswer;
import dev.tweed.lab.service.ProbeRequest;
import dev.tweed.model.Datapath;
import dev.tweed.model.IpFamilies;
import dev.tweed.model.IpFamily;
import dev.tweed.model.Json;
import dev.tweed.model.ProxyMode;
import dev.tweed.model.Routing;
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
    return opt.service().lab();
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
    Routing routing;

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
    ProxyMode proxy;

    @Option(
        names = "--dataplane",
        defaultValue = "standard",
        description =
            "Pods' datapath: standard (routing and netfilter) | ebpf (tc programs and maps).")
    Datapath dataplane;

    @Option(
        names = "--datastore",
        defaultValue = "embedded",
        description =
            "Where the lab keeps its state: embedded (a journal) | etcd (a real cluster).")
    DatastoreKind datastore;

    @Option(
        names = "--etcd-members",
        description = "With --datastore etcd: members, one per namespace (default 3).")
    Integer etcdMembers;

    @Option(
        names = "--ip-family",
        defaultValue = "ipv4",
        description =
            "The cluster's IP families: ipv4 | ipv6 | dual (IPv4 first). The underlay is"
                + " dual-stack in ipv6 and dual labs.")
    IpFamilies ipFamily;

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
      int members = etcdMembers != null ? etcdMembers : datastore == DatastoreKind.ETCD ? 3 : 0;
      // A bad combination is refused before anything is built.
      LabSpec spec =
          new LabSpec(
              nodes, routing, proxy, dataplane, routeReflectors, datastore, members, ipFamily);
      try {
        l.up(spec);
        if (monitoring) {
          new LabMetrics(lab.layout()).startMonitoring();
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
      return applyAndWait(lab.service(), file, waitSeconds);
    }

    static int applyAndWait(Lab l, Path file) throws Exception {
      return applyAndWait(LabService.of(l.layout()), file, 90);
    }

    static int applyAndWait(LabService lab, Path file, int waitSeconds) throws Exception {
      return print(
          () -> lab.apply(LabResources.read(file), Duration.ofSeconds(waitSeconds)), "applied");
    }

    /** Prints what a change did, or why nothing was done; the exit code says which. */
    static int print(ChangeCall change, String verb) throws Exception {
      LabService.ChangeResult r;
      try {
        r = change.run();
      } catch (InvalidResourceException e) {
        System.err.println("error: " + e.getMessage() + " (nothing was " + verb + ")");
        return 1;
      }
      r.results().forEach(System.out::println);
      r.pending().forEach(System.err::println);
      return r.complete() ? 0 : 1;
    }

    /** A change to the lab's resources that may refuse its input. */
    interface ChangeCall {
      LabService.ChangeResult run() throws Exception;
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
      LabService l = lab.service();
      return Apply.print(
          () -> l.delete(LabResources.read(file), Duration.ofSeconds(60)), "deleted");
    }
  }

  @Command(name = "get", description = "List nodes, pods or services (like kubectl get).")
  static final class Get implements Callable<Integer> {
    @Mixin LabOption lab;

    @Parameters(
        index = "0",
        paramLabel = "KIND",
        description = "nodes | pods | services | endpointslices | namespaces | networkpolicies")
    String what;

    @Mixin OutputOption output;

    @Override
    public Integer call() {
      LabService l = lab.service();
      String kind = LabService.kind(what);
      List<JsonNode> items = l.get(kind);
      if (output.json()) {
        System.out.println(Json.pretty(LabService.list(items)));
        return 0;
      }
      Tables.print(ResourceTable.rows(kind, items, l.lab()::agentReady));
      return 0;
    }
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
      LabService l = lab.service();
      try (Datastore store = l.store()) {
        return execIn(l.netnsOf(store, pod), command);
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
      LabService service = lab.service();
      service.requireNode(node);
      Lab l = service.lab();
      return execIn(l.layout().nodeNs(node), command);
    }
  }

  @Command(name = "status", description = "Show each node's agent health.")
  static final class Status implements Callable<Integer> {
    @Mixin LabOption lab;

    @Mixin OutputOption output;

    @Override
    public Integer call() {
      List<AgentStatus> agents = lab.service().status();
      if (output.json()) {
        System.out.println(Json.pretty(agents));
      } else {
        List<String[]> rows = new ArrayList<>();
        rows.add(
            new String[] {
              "NODE", "AGENT", "PID", "READY", "REVISION", "RECONCILES", "REPAIRS", "LAST-ERROR"
            });
        for (AgentStatus a : agents) {
          JsonNode h = a.health();
          rows.add(
              new String[] {
                a.node(),
                a.running() ? "running" : "stopped",
                String.valueOf(a.pid()),
                a.ready() ? "yes" : "no",
                h.path("datastoreRevision").asText("-"),
                h.path("reconciles").asText("-"),
                h.path("repairs").asText("-"),
                h.path("lastError").asText("")
              });
        }
        Tables.print(rows);
      }
      return agents.stream().allMatch(AgentStatus::ready) ? 0 : 1;
    }
  }

  @Command(
      name = "capture",
      description = "Capture every namespace of the lab into DIR (for tweed trace --dump).")
  static final class Capture implements Callable<Integer> {
    @Mixin LabOption lab;

    @Option(names = "--out", required = true)
    Path out;

    @Override
    public Integer call() throws Exception {
      LabService l = lab.service();
      try (Datastore store = l.store()) {
        LabCapture.write(l.layout(), store, out);
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
      lab.service().stopNode(node);
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
      lab.service().startNode(node);
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
      LabService.AgentRestart r = lab.service().restartAgent(node, kill);
      System.out.println(
          "agent on " + node + " restarted (pid " + r.before() + " -> " + r.after() + ")");
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
      LabService service = lab.service();
      service.requireNode(node);
      Lab l = service.lab();
      System.out.println(
          Json.pretty(
              conflist
                  ? LabNetconf.conflistForNode(
                      l.layout(), node, service.state().spec().ipFamilies())
                  : LabNetconf.forNode(l.layout(), node, service.state().spec().ipFamilies())));
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
        names = "--family",
        paramLabel = "4|6",
        description = "Reach the pod at its IPv4 or IPv6 address (default: its primary one).")
    IpFamily family;

    @Mixin OutputOption output;

    @Override
    public Integer call() throws Exception {
      ProbeRequest request =
          new ProbeRequest(
              from,
              to,
              port,
              proto,
              Duration.ofMillis(timeoutMillis),
              clientIp,
              Optional.ofNullable(family));
      boolean json = output.json();
      ProbeAnswer a = lab.service().probe(request);
      ProbeResult r = a.result();
      System.out.println(json ? Json.write(a.toJson()) : r.connected() ? r.answer() : r.reason());
      return r.connected() ? 0 : 1;
    }
  }
}
