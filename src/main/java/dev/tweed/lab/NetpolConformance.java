package dev.tweed.lab;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tweed.datastore.Datastore;
import dev.tweed.datastore.Entry;
import dev.tweed.lab.NetpolScenario.Pod;
import dev.tweed.lab.NetpolScenario.Port;
import dev.tweed.model.IpFamily;
import dev.tweed.model.PodResource;
import dev.tweed.model.ResourceKey;
import dev.tweed.sys.Command;
import dev.tweed.sys.NetworkNamespace;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Runs the network-policy conformance suite in a lab: for each scenario, applies its policies,
 * waits until every agent has programmed them, probes all 81 ordered pairs on TCP 80, TCP 81 and
 * UDP 80 with real traffic, compares with the expected matrices, and deletes the policies.
 */
public final class NetpolConformance {
  public static final List<Port> PORTS =
      List.of(new Port("tcp", 80), new Port("tcp", 81), new Port("udp", 80));

  /** {@code ${ns/pod}}: a pod's address; {@code ${host}}, {@code ${pods}}, {@code ${any}}. */
  private static final Pattern PLACEHOLDER = Pattern.compile("\\$\\{([a-z]+(?:/[a-z]+)?)\\}");

  private static final Duration PROBE_TIMEOUT = Duration.ofMillis(2000);
  private static final Duration SYNC_TIMEOUT = Duration.ofSeconds(30);
  private final Lab lab;
  private final Datastore store;
  private final int nodes;
  private final PrintStream out;

  /** The family whose addresses are probed and written into the scenarios' ipBlocks. */
  private final IpFamily family;

  public NetpolConformance(Lab lab, Datastore store, int nodes, PrintStream out) {
    this(lab, store, nodes, out, IpFamily.IPV4);
  }

  /**
   * The suite in {@code family}: pods probed at their addresses of it, and the ipBlocks of the
   * scenarios written in it (as the upstream e2e suite runs in an IPv6 cluster).
   */
  public NetpolConformance(Lab lab, Datastore store, int nodes, PrintStream out, IpFamily family) {
    this.lab = lab;
    this.store = store;
    this.nodes = nodes;
    this.out = out;
    this.family = family;
  }

  /** The model's namespaces and pods, as YAML. */
  public static String modelYaml() throws IOException {
    try (InputStream in = NetpolConformance.class.getResourceAsStream("/netpol/model.yaml")) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  /** The model's pods, in matrix order, with their namespaces and addresses. */
  public List<ReachabilityProbe.Target> targets() {
    List<ReachabilityProbe.Target> out = new ArrayList<>();
    for (String ns : List.of("x", "y", "z")) {
      for (String name : List.of("a", "b", "c")) {
        Entry e =
            store
                .get(ResourceKey.namespaced(PodResource.KIND, ns, name).toString())
                .orElseThrow(
                    () ->
                        new IllegalStateException("model pod " + ns + "/" + name + " is missing"));
        PodResource p = PodResource.from(e.value());
        out.add(
            new ReachabilityProbe.Target(
                p.qualifiedName(),
                lab.layout().netnsOf(p),
                p.podIp(family)
                    .orElseThrow(
                        () ->
                            new IllegalStateException(
                                p.qualifiedName() + " has no " + family.apiName() + " IP"))));
      }
    }
    return out;
  }

  /** Runs every scenario whose name {@code selected} accepts; true when all pass. */
  public boolean run(Predicate<String> selected) throws Exception {
    List<ReachabilityProbe.Target> pods = targets();
    int passed = 0;
    int failed = 0;
    for (NetpolScenario s : NetpolScenarios.all()) {
      if (!selected.test(s.name())) {
        continue;
      }
      long start = System.nanoTime();
      List<String> problems = runOne(s, pods);
      double seconds = (System.nanoTime() - start) / 1e9;
      if (problems.isEmpty()) {
        passed++;
        out.printf("PASS  %-75s %5.1f s%n", s.name(), seconds);
      } else {
        failed++;
        out.printf("FAIL  %-75s %5.1f s%n", s.name(), seconds);
        problems.forEach(out::println);
      }
    }
    out.printf("%d passed, %d failed%n", passed, failed);
    return failed == 0;
  }

  private List<String> runOne(NetpolScenario s, List<ReachabilityProbe.Target> pods)
      throws Exception {
    List<ObjectNode> policies =
        s.policies().isBlank()
            ? List.of()
            : LabResources.read(substitute(s.policies(), pods, family), s.name());
    LabResources resources = LabResources.of(store, lab.layout());
    List<String> problems = new ArrayList<>();
    try {
      if (!policies.isEmpty()) {
        resources.apply(policies);
      }
      lab.awaitPoliciesSynced(nodes, store.currentRevision(), SYNC_TIMEOUT);
      List<CompletableFuture<ReachabilityMatrix>> observed = new ArrayList<>();
      // The three matrices at once, on threads of their own (the common pool may have one).
      ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
      for (Port port : PORTS) {
        observed.add(
            CompletableFuture.supplyAsync(
                () -> {
                  try {
                    return ReachabilityProbe.probe(
                        pods, port.number(), port.proto(), PROBE_TIMEOUT);
                  } catch (Exception e) {
                    throw new IllegalStateException(e);
                  }
                },
                pool));
      }
      pool.shutdown();
      for (int i = 0; i < PORTS.size(); i++) {
        ReachabilityMatrix want = expected(s, pods, PORTS.get(i));
        ReachabilityMatrix got = observed.get(i).get();
        if (!got.differences(want).isEmpty()) {
          Port p = PORTS.get(i);
          problems.add("  " + p.proto().toUpperCase() + " " + p.number() + ":");
          problems.add(got.diffTable(want).indent(4).stripTrailing());
          if (p.proto().equals("udp")) {
            problems.addAll(reprobeLeaks(pods, got, want, p));
            problems.addAll(conntrackOf(got, want, pods));
          }
        }
      }
    } finally {
      if (!policies.isEmpty()) {
        resources.delete(policies);
        lab.awaitPoliciesSynced(nodes, store.currentRevision(), SYNC_TIMEOUT);
      }
    }
    return problems;
  }

  /**
   * For a UDP pair that connected though it should not have, asks again, now for the source address
   * the server saw: tells a lasting gap from a passing one, and a wrong source from a missing rule.
   */
  private static List<String> reprobeLeaks(
      List<ReachabilityProbe.Target> pods,
      ReachabilityMatrix got,
      ReachabilityMatrix want,
      Port port) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < pods.size(); i++) {
      for (int j = 0; j < pods.size(); j++) {
        if (got.get(i, j) && !want.get(i, j)) {
          ReachabilityProbe.Target from = pods.get(i);
          ReachabilityProbe.Target to = pods.get(j);
          String seen;
          try {
            ProbeResult r =
                ProbeClient.clientIp(
                    NetworkNamespace.pathOf(from.netns()), to.ip(), port.number(), PROBE_TIMEOUT);
            seen = r.connected() ? "connected again, server saw " + r.answer() : r.reason();
          } catch (Exception e) {
            seen = "re-probe failed: " + e;
          }
          out.add(
              "    re-probe " + from.name() + " (" + from.ip() + ") -> " + to.name() + ": " + seen);
        }
      }
    }
    return out;
  }

  /** The nodes' conntrack entries between the pods of each unexpected connection. */
  private List<String> conntrackOf(
      ReachabilityMatrix got, ReachabilityMatrix want, List<ReachabilityProbe.Target> pods) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < pods.size(); i++) {
      for (int j = 0; j < pods.size(); j++) {
        if (got.get(i, j) && !want.get(i, j)) {
          String a = "src=" + pods.get(i).ip() + " ";
          String b = "dst=" + pods.get(j).ip() + " ";
          for (int n = 1; n <= nodes; n++) {
            String node = LabLayout.nodeName(n);
            String ns = lab.layout().nodeNs(node);
            Command.Result r =
                Command.exec(
                    List.of("ip", "netns", "exec", ns, "cat", "/proc/net/nf_conntrack"),
                    "",
                    Map.of());
            r.stdout()
                .lines()
                .filter(l -> l.contains(a) && l.contains(b))
                .forEach(l -> out.add("    conntrack " + node + ": " + l));
          }
        }
      }
    }
    return out;
  }

  static ReachabilityMatrix expected(
      NetpolScenario s, List<ReachabilityProbe.Target> pods, Port port) {
    List<List<Boolean>> rows = new ArrayList<>();
    for (ReachabilityProbe.Target from : pods) {
      List<Boolean> row = new ArrayList<>();
      for (ReachabilityProbe.Target to : pods) {
        // A pod's traffic to its own address never leaves it: no policy applies.
        row.add(from.equals(to) || s.allowed().test(pod(from), pod(to), port));
      }
      rows.add(row);
    }
    return new ReachabilityMatrix(pods.stream().map(ReachabilityProbe.Target::name).toList(), rows);
  }

  private static Pod pod(ReachabilityProbe.Target t) {
    String[] p = t.name().split("/");
    return new Pod(p[0], p[1]);
  }

  static String substitute(String yaml, List<ReachabilityProbe.Target> pods, IpFamily family) {
    Matcher m = PLACEHOLDER.matcher(yaml);
    StringBuilder sb = new StringBuilder();
    boolean v4 = family == IpFamily.IPV4;
    while (m.find()) {
      String ref = m.group(1);
      String value =
          switch (ref) {
            case "host" -> String.valueOf(family.bits());
            case "pods" -> v4 ? LabLayout.POD_CIDR : LabLayout.POD_CIDR6;
            case "any" -> v4 ? "0.0.0.0/0" : "::/0";
            default ->
                pods.stream()
                    .filter(t -> t.name().equals(ref))
                    .findFirst()
                    .orElseThrow(() -> new IllegalArgumentException("no pod " + ref))
                    .ip();
          };
      m.appendReplacement(sb, Matcher.quoteReplacement(value));
    }
    m.appendTail(sb);
    return sb.toString();
  }
}
