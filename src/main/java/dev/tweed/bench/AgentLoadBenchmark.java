package dev.tweed.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tweed.cni.AgentClient;
import dev.tweed.datastore.Datastore;
import dev.tweed.datastore.JournalDatastore;
import dev.tweed.ebpf.DatapathObject;
import dev.tweed.lab.LabBpf;
import dev.tweed.lab.LabLayout;
import dev.tweed.lab.LabProcesses;
import dev.tweed.lab.Namespaces;
import dev.tweed.model.Dataplane;
import dev.tweed.model.Ipv4;
import dev.tweed.model.Json;
import dev.tweed.model.NodeResource;
import dev.tweed.model.ResourceKey;
import dev.tweed.model.WorkloadEndpoint;
import dev.tweed.proxy.ServicePortResolver;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Predicate;
import java.util.stream.Stream;

/**
 * The agent as a process: its resident memory and CPU at idle, then while it programs a node with S
 * Services × E endpoints, P NetworkPolicies and N local pods, then idle again with all of it, per
 * dataplane and per JVM settings (the lab's against the JVM's defaults, in the same run). The agent
 * runs in a scratch network namespace of its own, with a dummy interface per local pod for its
 * routes and programs, and the embedded store the benchmark writes.
 */
public final class AgentLoadBenchmark {
  private static final String NODE = "bench-node";
  private static final String NODE_IP = "172.31.0.11";
  private static final int NAMESPACES = 10;
  private static final int APPS = 50;
  private static final long CLOCK_TICKS = 100;
  private final PrintStream out;

  public AgentLoadBenchmark(PrintStream out) {
    this.out = out;
  }

  /**
   * A JVM configuration to run the agent with, and the build it runs: this one, or another's jar
   * (the baseline of a before/after comparison in one run).
   */
  public record JvmSettings(String name, List<String> flags, Optional<Path> jar) {
    public JvmSettings(String name, List<String> flags) {
      this(name, flags, Optional.empty());
    }

    List<String> command() {
      return jar.map(j -> LabProcesses.javaCommand(flags, j))
          .orElseGet(() -> LabProcesses.javaCommand(flags));
    }
  }

  /** The lab's settings, and the JVM's defaults (G1, C1 and C2, a quarter of memory as heap). */
  public static final List<JvmSettings> SETTINGS =
      List.of(
          new JvmSettings("lab", LabProcesses.AGENT_JVM),
          new JvmSettings("jvm-defaults", List.of()));

  /** One measured case; times in seconds, memory in MiB, CPU in % of one core. */
  public record Result(
      String mode,
      String jvm,
      double startSeconds,
      double idleRssMiB,
      double idleCpuPercent,
      double programSeconds,
      double programCpuSeconds,
      double peakRssMiB,
      double loadedRssMiB,
      double loadedIdleCpuPercent,
      double podAddMedianMs,
      double podAddP99Ms,
      String error) {}

  public List<Result> run(
      List<Dataplane> modes,
      List<JvmSettings> settings,
      int services,
      int endpoints,
      int policies,
      int pods,
      int idleSeconds,
      int podAdds)
      throws Exception {
    out.printf(
        "agent load: %d services x %d endpoints, %d policies, %d local pods; idle windows %d s%n",
        services, endpoints, policies, pods, idleSeconds);
    List<Result> results = new ArrayList<>();
    for (Dataplane mode : modes) {
      for (JvmSettings jvm : settings) {
        Result r = once(mode, jvm, services, endpoints, policies, pods, idleSeconds, podAdds);
        results.add(r);
        out.printf(
            Locale.ROOT,
            "%-9s %-13s start %.1fs  idle %.0f MiB %.1f%%  program %.1fs %.1f cpu-s peak %.0f MiB"
                + "  loaded %.0f MiB %.1f%%  pod added p50 %.1f ms p99 %.1f ms %s%n",
            r.mode(),
            r.jvm(),
            r.startSeconds(),
            r.idleRssMiB(),
            r.idleCpuPercent(),
            r.programSeconds(),
            r.programCpuSeconds(),
            r.peakRssMiB(),
            r.loadedRssMiB(),
            r.loadedIdleCpuPercent(),
            r.podAddMedianMs(),
            r.podAddP99Ms(),
            r.error());
      }
    }
    boolean both = has(settings, "lab") && has(settings, "jvm-defaults");
    for (Dataplane mode :
        has(settings, "baseline") && has(settings, "lab") ? modes : List.<Dataplane>of()) {
      Result before = find(results, mode, "baseline");
      Result after = find(results, mode, "lab");
      out.printf(
          Locale.ROOT,
          "%-9s this build / baseline: empty idle CPU %.2fx, loaded idle CPU %.2fx, programming"
              + " time %.2fx, peak RSS %.2fx, pod added p50 %.2fx, p99 %.2fx%n",
          mode.id(),
          after.idleCpuPercent() / before.idleCpuPercent(),
          after.loadedIdleCpuPercent() / before.loadedIdleCpuPercent(),
          after.programSeconds() / before.programSeconds(),
          after.peakRssMiB() / before.peakRssMiB(),
          after.podAddMedianMs() / before.podAddMedianMs(),
          after.podAddP99Ms() / before.podAddP99Ms());
    }
    for (Dataplane mode : both ? modes : List.<Dataplane>of()) {
      Result lab = find(results, mode, "lab");
      Result def = find(results, mode, "jvm-defaults");
      out.printf(
          Locale.ROOT,
          "%-9s lab settings / JVM defaults: idle RSS %.2fx, peak RSS %.2fx, loaded RSS %.2fx,"
              + " programming CPU %.2fx, programming time %.2fx%n",
          mode.id(),
          lab.idleRssMiB() / def.idleRssMiB(),
          lab.peakRssMiB() / def.peakRssMiB(),
          lab.loadedRssMiB() / def.loadedRssMiB(),
          lab.programCpuSeconds() / def.programCpuSeconds(),
          lab.programSeconds() / def.programSeconds());
    }
    return results;
  }

  private static boolean has(List<JvmSettings> settings, String name) {
    return settings.stream().anyMatch(x -> x.name().equals(name));
  }

  private static Result find(List<Result> rs, Dataplane mode, String jvm) {
    return rs.stream()
        .filter(r -> r.mode().equals(mode.id()) && r.jvm().equals(jvm))
        .findFirst()
        .orElseThrow();
  }

  public static ArrayNode toJson(List<Result> results) {
    ArrayNode a = Json.MAPPER.createArrayNode();
    for (Result r : results) {
      a.add(Json.MAPPER.valueToTree(r));
    }
    return a;
  }

  private Result once(
      Dataplane mode,
      JvmSettings jvm,
      int services,
      int endpoints,
      int policies,
      int pods,
      int idleSeconds,
      int podAdds)
      throws Exception {
    LabLayout layout = LabLayout.of("benchagent");
    String ns = layout.nodeNs(NODE);
    Path storeDir = layout.storeDir();
    long pid = 0;
    Thread cleanup = new Thread(() -> cleanUp(layout, ns, 0));
    Runtime.getRuntime().addShutdownHook(cleanup);
    try {
      cleanUp(layout, ns, 0);
      Files.createDirectories(storeDir);
      Files.createDirectories(layout.logDir());
      Namespaces.add(ns);
      List<String> links = new ArrayList<>();
      links.add("link set lo up");
      // veth pairs with both ends here, as the kernel here has no dummy driver loaded.
      links.add("link add eth0 type veth peer name eth0-peer");
      links.add("link set eth0-peer up");
      links.add("addr add " + NODE_IP + "/24 dev eth0");
      links.add("link set eth0 up");
      for (int i = 0; i < pods; i++) {
        links.add("link add " + hostInterface(i) + " type veth peer name " + peer(i));
        links.add("link set " + peer(i) + " up");
        links.add("link set " + hostInterface(i) + " up");
      }
      Namespaces.batch(ns, links);
      try (Datastore store = new JournalDatastore(storeDir)) {
        store.put(
            new NodeResource(NODE, NODE_IP).key().toString(),
            new NodeResource(NODE, NODE_IP).toJson());
      }
      List<String> args =
          new ArrayList<>(
              List.of(
                  "agent",
                  "--node",
                  NODE,
                  "--store",
                  storeDir.toString(),
                  "--socket",
                  layout.agentSocket(NODE).toString(),
                  "--proxy-mode",
                  mode.proxyMode().id(),
                  "--lab-marker",
                  "lab=" + layout.name()));
      if (mode == Dataplane.EBPF) {
        LabBpf.mount(layout);
        DatapathObject.build(layout.cniBinDir());
        args.addAll(
            List.of(
                "--dataplane",
                mode.datapath().id(),
                "--bpf-object",
                layout.cniBinDir().resolve(DatapathObject.OBJECT).toString(),
                "--bpf-pin-dir",
                LabBpf.pinDir(layout, NODE).toString()));
      }
      Files.createDirectories(layout.agentSocket(NODE).getParent());
      Files.createDirectories(layout.cniBinDir());
      List<String> command = new ArrayList<>(jvm.command());
      command.addAll(args);
      long started = System.nanoTime();
      pid =
          LabProcesses.startDetached(
              Optional.of(ns), command, layout.logDir().resolve(NODE + "-agent.log"));
      final long agent = pid;
      cleanup = replaceHook(cleanup, () -> cleanUp(layout, ns, agent));
      await(layout, pid, started, h -> h.path("ready").asBoolean(), 120);
      double startSeconds = (System.nanoTime() - started) / 1e9;
      LabProcesses.sleep(2000);
      Window idle = Window.measure(pid, idleSeconds);

      long loadStart = System.nanoTime();
      long ticksBefore = ticks(pid);
      long revision;
      try (Datastore store = new JournalDatastore(storeDir)) {
        revision = writeLoad(store, services, endpoints, policies, pods);
      }
      long[] peak = {rssKiB(pid)};
      long rev = revision;
      Optional<String> error = awaitProgrammed(layout, pid, loadStart, rev, peak, 600);
      double programSeconds = (System.nanoTime() - loadStart) / 1e9;
      // A dead agent (out of memory, say) has no CPU time or idle window left to read; the error
      // says so and the finally block keeps its log.
      boolean alive = LabProcesses.isRunning(pid);
      if (!alive && error.isEmpty()) {
        error = Optional.of("the agent exited");
      }
      double programCpu = alive ? (ticks(pid) - ticksBefore) / (double) CLOCK_TICKS : Double.NaN;
      LabProcesses.sleep(3000);
      Window loaded =
          alive && error.isEmpty() ? Window.measure(pid, idleSeconds) : new Window(0, Double.NaN);
      Stats podAdd =
          alive && error.isEmpty() && podAdds > 0
              ? podAdds(layout, storeDir, pid, podAdds)
              : new Stats(0, Double.NaN, Double.NaN, Double.NaN, Double.NaN);
      return new Result(
          mode.id(),
          jvm.name(),
          startSeconds,
          idle.rssKiB() / 1024.0,
          idle.cpuPercent(),
          programSeconds,
          programCpu,
          Math.max(peak[0], loaded.rssKiB()) / 1024.0,
          loaded.rssKiB() / 1024.0,
          loaded.cpuPercent(),
          podAdd.median(),
          podAdd.p99(),
          error.orElse(""));
    } finally {
      if (pid > 0) {
        LabProcesses.stop(pid, "lab=" + layout.name(), false);
      }
      if (Files.exists(layout.logDir().resolve(NODE + "-agent.log"))) {
        out.println("  agent log: " + keepLog(layout, mode, jvm));
      }
      cleanUp(layout, ns, pid);
      Runtime.getRuntime().removeShutdownHook(cleanup);
    }
  }

  /** Copies the agent's log out of the scratch directory, which goes with the run. */
  private static Path keepLog(LabLayout layout, Dataplane mode, JvmSettings jvm)
      throws IOException {
    Path kept =
        Path.of(
            System.getProperty("java.io.tmpdir"),
            "tweed-bench-agent-" + mode.id() + "-" + jvm.name() + ".log");
    Files.copy(
        layout.logDir().resolve(NODE + "-agent.log"), kept, StandardCopyOption.REPLACE_EXISTING);
    return kept;
  }

  private static Thread replaceHook(Thread old, Runnable r) {
    Runtime.getRuntime().removeShutdownHook(old);
    Thread t = new Thread(r);
    Runtime.getRuntime().addShutdownHook(t);
    return t;
  }

  /** CPU use over a window of idle seconds and the resident set at its end. */
  private record Window(long rssKiB, double cpuPercent) {
    static Window measure(long pid, int seconds) throws IOException {
      long t0 = ticks(pid);
      long n0 = System.nanoTime();
      LabProcesses.sleep(seconds * 1000L);
      long t1 = ticks(pid);
      double wall = (System.nanoTime() - n0) / 1e9;
      return new Window(AgentLoadBenchmark.rssKiB(pid), 100.0 * (t1 - t0) / CLOCK_TICKS / wall);
    }
  }

  private static void await(
      LabLayout layout, long pid, long since, Predicate<JsonNode> ok, int seconds) {
    while (true) {
      try {
        if (ok.test(Json.parse(AgentClient.health(layout.agentSocket(NODE))))) {
          return;
        }
      } catch (IOException | IllegalArgumentException e) {
        // not listening yet
      }
      if (!LabProcesses.isRunning(pid)) {
        throw new IllegalStateException("the agent exited before it was ready");
      }
      if (System.nanoTime() - since > seconds * 1_000_000_000L) {
        throw new IllegalStateException("the agent was not ready in " + seconds + " s");
      }
      LabProcesses.sleep(100);
    }
  }

  /** Waits until the agent has programmed {@code revision}, keeping the peak resident set. */
  private static Optional<String> awaitProgrammed(
      LabLayout layout, long pid, long since, long revision, long[] peak, int seconds) {
    while (true) {
      if (!LabProcesses.isRunning(pid)) {
        return Optional.of("the agent exited while programming (see its log)");
      }
      try {
        peak[0] = Math.max(peak[0], rssKiB(pid));
        var h = Json.parse(AgentClient.health(layout.agentSocket(NODE)));
        if (h.path("policyRevision").asLong(-1) >= revision
            && h.path("proxyRevision").asLong(-1) >= revision
            && h.path("lastError").asText().isEmpty()) {
          return Optional.empty();
        }
      } catch (IOException | IllegalArgumentException e) {
        // busy, or it died mid-answer (the next turn sees which); ask again
      }
      if (System.nanoTime() - since > seconds * 1_000_000_000L) {
        String last = "";
        try {
          last =
              Json.parse(AgentClient.health(layout.agentSocket(NODE))).path("lastError").asText();
        } catch (IOException e) {
          last = "no answer: " + e.getMessage();
        }
        return Optional.of("not programmed within " + seconds + " s; last error: " + last);
      }
      LabProcesses.sleep(100);
    }
  }

  static String hostInterface(int i) {
    return String.format("twb%010d", i);
  }

  /** The other end of a pod's host interface, where the pod's namespace would hold it. */
  static String peer(int i) {
    return String.format("twp%010d", i);
  }

  static String podIp(int i) {
    return Ipv4.format(Ipv4.parse("10.244.0.0") + 2 + i);
  }

  private static final String PEER = "bench-peer";

  /**
   * Pods added on another node one at a time, each timed from its write to the store until the
   * agent reports that its policy rules (or maps) reflect that write: the new pod's address joins
   * the address sets of the policies whose peers select it.
   */
  private static Stats podAdds(LabLayout layout, Path storeDir, long pid, int count) {
    List<Double> ms = new ArrayList<>();
    try (Datastore store = new JournalDatastore(storeDir)) {
      for (int k = 0; k < count; k++) {
        long start = System.nanoTime();
        long revision = writePod(store, k);
        while (true) {
          if (!LabProcesses.isRunning(pid)) {
            throw new IllegalStateException("the agent exited while pods were added");
          }
          try {
            var h = Json.parse(AgentClient.health(layout.agentSocket(NODE)));
            if (h.path("policyRevision").asLong(-1) >= revision) {
              break;
            }
          } catch (IOException | IllegalArgumentException e) {
            // busy; ask again
          }
          if (System.nanoTime() - start > 60_000_000_000L) {
            throw new IllegalStateException("pod " + k + " not programmed within 60 s");
          }
          LockSupport.parkNanos(500_000);
        }
        ms.add((System.nanoTime() - start) / 1e6);
      }
    }
    return Stats.of(ms);
  }

  /** A running pod on the peer node, labelled as the load's pods are; returns the revision. */
  private static long writePod(Datastore store, int k) {
    String ns = "ns-" + k % NAMESPACES;
    String name = "added-" + k;
    String ip = Ipv4.format(Ipv4.parse("10.244.64.2") + k);
    ObjectNode p = resource("v1", "Pod", ns, name);
    p.with("metadata").putObject("labels").put("app", "app-" + k % APPS).put("tier", "t" + k % 3);
    p.putObject("spec").put("nodeName", PEER).putArray("containers").addObject().put("name", "c");
    p.putObject("status").put("phase", "Running").put("podIP", ip);
    store.put(ResourceKey.namespaced("Pod", ns, name).toString(), p);
    WorkloadEndpoint w =
        new WorkloadEndpoint(
            PEER,
            "a" + k,
            "eth0",
            "/run/netns/none",
            "twa" + k,
            ip,
            "ee:ee:ee:00:00:02",
            ns + "/" + name);
    store.put(w.key().toString(), w.toJson());
    return store.currentRevision();
  }

  /** Writes the load; returns the store's revision after the last write. */
  static long writeLoad(Datastore store, int services, int endpoints, int policies, int pods) {
    for (int n = 0; n < NAMESPACES; n++) {
      ObjectNode o = resource("v1", "Namespace", null, "ns-" + n);
      o.with("metadata").putObject("labels").put("name", "ns-" + n).put("team", "t" + n % 3);
      store.put(ResourceKey.cluster("Namespace", "ns-" + n).toString(), o);
    }
    for (int i = 0; i < pods; i++) {
      String ns = "ns-" + i % NAMESPACES;
      ObjectNode p = resource("v1", "Pod", ns, "pod-" + i);
      p.with("metadata").putObject("labels").put("app", "app-" + i % APPS).put("tier", "t" + i % 3);
      ObjectNode spec = p.putObject("spec").put("nodeName", NODE);
      spec.putArray("containers")
          .addObject()
          .put("name", "c")
          .putArray("ports")
          .addObject()
          .put("name", "http")
          .put("containerPort", 8080);
      p.putObject("status").put("phase", "Running").put("podIP", podIp(i));
      store.put(ResourceKey.namespaced("Pod", ns, "pod-" + i).toString(), p);
      WorkloadEndpoint w =
          new WorkloadEndpoint(
              NODE,
              "c" + i,
              "eth0",
              "/run/netns/none",
              hostInterface(i),
              podIp(i),
              "ee:ee:ee:00:00:01",
              ns + "/pod-" + i);
      store.put(w.key().toString(), w.toJson());
    }
    int svcBase = Ipv4.parse("10.96.0.10");
    for (int i = 0; i < services; i++) {
      String ns = "ns-" + i % NAMESPACES;
      String name = "svc-" + i;
      ObjectNode s = resource("v1", "Service", ns, name);
      ObjectNode spec = s.putObject("spec");
      spec.put("clusterIP", Ipv4.format(svcBase + i)).put("type", "ClusterIP");
      spec.putObject("selector").put("app", "app-" + i % APPS);
      spec.putArray("ports")
          .addObject()
          .put("name", "http")
          .put("port", 80)
          .put("protocol", "TCP")
          .put("targetPort", 8080);
      store.put(ResourceKey.namespaced("Service", ns, name).toString(), s);
      ObjectNode slice = resource("discovery.k8s.io/v1", "EndpointSlice", ns, name + "-x");
      slice.with("metadata").putObject("labels").put(ServicePortResolver.SERVICE_NAME_LABEL, name);
      slice.put("addressType", "IPv4");
      ArrayNode eps = slice.putArray("endpoints");
      for (int e = 0; e < endpoints; e++) {
        int pod = (i * endpoints + e) % Math.max(1, pods);
        ObjectNode ep = eps.addObject();
        ep.putArray("addresses").add(podIp(pod));
        ep.putObject("conditions")
            .put("ready", true)
            .put("serving", true)
            .put("terminating", false);
        ep.put("nodeName", NODE);
      }
      slice
          .putArray("ports")
          .addObject()
          .put("name", "http")
          .put("protocol", "TCP")
          .put("port", 8080);
      store.put(ResourceKey.namespaced("EndpointSlice", ns, name + "-x").toString(), slice);
    }
    for (int i = 0; i < policies; i++) {
      String ns = "ns-" + i % NAMESPACES;
      ObjectNode p = resource("networking.k8s.io/v1", "NetworkPolicy", ns, "pol-" + i);
      ObjectNode spec = p.putObject("spec");
      spec.putObject("podSelector").putObject("matchLabels").put("app", "app-" + i % APPS);
      spec.putArray("policyTypes").add("Ingress");
      ObjectNode rule = spec.putArray("ingress").addObject();
      ObjectNode from = rule.putArray("from").addObject();
      from.putObject("namespaceSelector").putObject("matchLabels").put("team", "t" + i % 3);
      from.putObject("podSelector").putObject("matchLabels").put("app", "app-" + (i + 1) % APPS);
      ArrayNode ports = rule.putArray("ports");
      ports.addObject().put("protocol", "TCP").put("port", "http");
      ports.addObject().put("protocol", "TCP").put("port", 9000).put("endPort", 9100);
      store.put(ResourceKey.namespaced("NetworkPolicy", ns, "pol-" + i).toString(), p);
    }
    return store.currentRevision();
  }

  private static ObjectNode resource(String apiVersion, String kind, String ns, String name) {
    ObjectNode o = Json.object();
    o.put("apiVersion", apiVersion).put("kind", kind);
    ObjectNode meta = o.putObject("metadata").put("name", name).put("uid", kind + "-" + name);
    if (ns != null) {
      meta.put("namespace", ns);
    }
    return o;
  }

  static long rssKiB(long pid) throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc", String.valueOf(pid), "status"))) {
      if (line.startsWith("VmRSS:")) {
        return Long.parseLong(line.replaceAll("[^0-9]", ""));
      }
    }
    return 0;
  }

  /**
   * User and system CPU time of the process and of the children it ran and waited for (the
   * iptables, nft and ipset tools the rule modes run are the agent's cost too), in clock ticks.
   */
  static long ticks(long pid) throws IOException {
    String stat = Files.readString(Path.of("/proc", String.valueOf(pid), "stat"));
    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    // After "pid (comm) ", utime, stime, cutime and cstime are the 12th to 15th fields.
    return Long.parseLong(f[11])
        + Long.parseLong(f[12])
        + Long.parseLong(f[13])
        + Long.parseLong(f[14]);
  }

  private static void cleanUp(LabLayout layout, String ns, long pid) {
    if (pid > 0) {
      LabProcesses.stop(pid, "lab=" + layout.name(), false);
    }
    if (Namespaces.list().contains(ns)) {
      Namespaces.delete(ns);
    }
    LabBpf.unmount(layout);
    if (Files.exists(layout.dir())) {
      try (Stream<Path> walk = Files.walk(layout.dir())) {
        for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
          Files.deleteIfExists(p);
        }
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }
}
