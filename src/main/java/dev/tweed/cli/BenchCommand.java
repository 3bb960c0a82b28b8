package dev.tweed.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tweed.bench.AgentLoadBenchmark;
import dev.tweed.bench.BgpConvergenceBenchmark;
import dev.tweed.bench.CniLatencyBenchmark;
import dev.tweed.bench.DatapathPacketBenchmark;
import dev.tweed.bench.DualStackServiceSyncBenchmark;
import dev.tweed.bench.EndpointPropagationBenchmark;
import dev.tweed.bench.GraphUpdateBenchmark;
import dev.tweed.bench.JournalBenchmark;
import dev.tweed.bench.NftWriterBenchmark;
import dev.tweed.bench.ObserveBenchmark;
import dev.tweed.bench.PolicySyncBenchmark;
import dev.tweed.bench.RuleGenerationBenchmark;
import dev.tweed.bench.ServiceSyncBenchmark;
import dev.tweed.bench.Stats;
import dev.tweed.bench.ThroughputBenchmark;
import dev.tweed.datastore.Datastore;
import dev.tweed.lab.Lab;
import dev.tweed.lab.LabLayout;
import dev.tweed.lab.LabProcesses;
import dev.tweed.lab.LabResources;
import dev.tweed.lab.LabSpec;
import dev.tweed.lab.LabStores;
import dev.tweed.lab.RandomLabResources;
import dev.tweed.lab.TraceFidelity;
import dev.tweed.lab.service.LabService;
import dev.tweed.model.BgpConfiguration;
import dev.tweed.model.Datapath;
import dev.tweed.model.Dataplane;
import dev.tweed.model.IpFamilies;
import dev.tweed.model.IpFamily;
import dev.tweed.model.Json;
import dev.tweed.model.PodResource;
import dev.tweed.model.ProxyMode;
import dev.tweed.model.Routing;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code tweed bench ...}: benchmarks in a lab of their own, each with its baseline. */
@Command(name = "bench", description = "Benchmarks against baselines measured in the same run.")
public final class BenchCommand {

  /** Runs {@code body} in a fresh lab named "bench", removed afterwards whatever happens. */
  static <T> T inBenchLab(LabSpec spec, LabBody<T> body) throws Exception {
    return inLab("bench", lab -> lab.up(spec), body);
  }

  /**
   * A fresh lab NAME (a leftover one removed first) brought up by {@code up}, always removed. What
   * the lab says while it comes and goes is progress, on standard error: standard output is the
   * benchmark's (its JSON, with -o json).
   */
  static <T> T inLab(String name, LabUp up, LabBody<T> body) throws Exception {
    Lab lab = new Lab(LabLayout.of(name), System.err);
    if (lab.exists()) {
      lab.down();
    }
    try {
      up.run(lab);
      return body.run(lab);
    } finally {
      lab.down();
    }
  }

  /** Applies Kubernetes YAML to a bench lab and waits for its pods; refuses to go on otherwise. */
  static void apply(Lab lab, String yaml) throws Exception {
    LabService.ChangeResult r =
        LabService.of(lab.layout())
            .apply(LabResources.read(yaml, "the benchmark's resources"), Duration.ofSeconds(90));
    if (!r.complete()) {
      throw new IllegalStateException(String.join("; ", r.pending()));
    }
  }

  /** Runs one JMH benchmark class with these parameters, in a JVM of its own. */
  static int jmh(Class<?> benchmark, Map<String, String> params) throws RunnerException {
    var opts =
        new OptionsBuilder()
            .include(benchmark.getName())
            .jvmArgsPrepend("--enable-native-access=ALL-UNNAMED");
    params.forEach(opts::param);
    new Runner(opts.build()).run();
    return 0;
  }

  interface LabUp {
    void run(Lab lab) throws Exception;
  }

  interface LabBody<T> {
    T run(Lab lab) throws Exception;
  }

  @Command(
      name = "cni",
      description = "CNI ADD/DEL latency: Tweed's shims against bridge+host-local.")
  static final class Cni implements Callable<Integer> {
    @Option(names = "--pods", defaultValue = "50")
    int pods;

    @Option(names = "--warmup", defaultValue = "5")
    int warmup;

    @Mixin OutputOption output;

    @Option(
        names = "--dataplane",
        defaultValue = "standard",
        description = "The lab's datapath: standard | ebpf")
    Datapath dataplane;

    @Option(
        names = "--dual-stack",
        description =
            "Run in a dual-stack lab and also measure ADD with an address from each family,"
                + " against the IPv4 configuration and the reference plugins with two ranges.")
    boolean dualStack;

    @Override
    public Integer call() throws Exception {
      var results =
          inBenchLab(
              LabSpec.of(1)
                  .withDatapath(dataplane)
                  .withIpFamilies(dualStack ? IpFamilies.DUAL : IpFamilies.IPV4),
              lab ->
                  new CniLatencyBenchmark(lab, output.json() ? System.err : System.out)
                      .run(pods, warmup, dualStack));
      var tweed = results.get(0);
      var ref = results.get(1);
      var java = results.get(2);
      // With -o json standard output holds the JSON alone; the ratios for people go aside.
      PrintStream text = output.json() ? System.err : System.out;
      text.printf(
          "ratio tweed/reference: ADD median %.2fx, p99 %.2fx; DEL median %.2fx, p99 %.2fx%n",
          tweed.add().median() / ref.add().median(),
          tweed.add().p99() / ref.add().p99(),
          tweed.del().median() / ref.del().median(),
          tweed.del().p99() / ref.del().p99());
      text.printf(
          "ratio java-shim/reference: ADD median %.2fx%n",
          java.add().median() / ref.add().median());
      if (dualStack) {
        var again = results.get(3);
        var dual = results.get(4);
        var refDual = results.get(5);
        text.printf(
            "ratio tweed dual-stack/IPv4 (run right before it): ADD median %.2fx, p99 %.2fx; DEL"
                + " median %.2fx%n",
            dual.add().median() / again.add().median(),
            dual.add().p99() / again.add().p99(),
            dual.del().median() / again.del().median());
        text.printf(
            "ratio reference two ranges/one: ADD median %.2fx; tweed dual/reference two ranges:"
                + " ADD median %.2fx%n",
            refDual.add().median() / ref.add().median(),
            dual.add().median() / refDual.add().median());
      }
      if (output.json()) {
        System.out.println(Json.pretty(results));
      }
      return 0;
    }
  }

  @Command(
      name = "services-dual-stack",
      description =
          "One endpoint change at N dual-stack Services (a proxier per family: iptables and"
              + " ip6tables, or nftables' ip and ip6 tables) against N single-stack ones, in one"
              + " run.")
  static final class ServicesDualStack implements Callable<Integer> {
    @Option(names = "--mode", defaultValue = "iptables", description = "iptables | nftables")
    ProxyMode mode;

    @Option(names = "--rounds", defaultValue = "5")
    int rounds;

    @Option(names = "--services", defaultValue = "1000")
    int services;

    @Option(names = "--endpoints-per-service", defaultValue = "10")
    int endpoints;

    @Override
    public Integer call() throws Exception {
      new DualStackServiceSyncBenchmark(System.out, mode).run(services, endpoints, rounds);
      return 0;
    }
  }

  @Command(
      name = "throughput",
      description = "Pod-to-pod TCP throughput across nodes against a bare veth pair.")
  static final class Throughput implements Callable<Integer> {
    @Option(names = "--seconds", defaultValue = "5")
    int seconds;

    @Option(
        names = "--dual-stack",
        description =
            "In dual-stack labs (VXLAN, then BGP): pod-to-pod over IPv6 against IPv4 between the"
                + " same pods, alternating; with VXLAN also IPv6 carried by the IPv4 tunnel.")
    boolean dualStack;

    @Option(names = "--rounds", defaultValue = "3", description = "With --dual-stack.")
    int rounds;

    /** Each datapath the run compares: routing and dataplane, and how the report names it. */
    record Setup(Routing routing, Datapath datapath, String name) {}

    static final List<Setup> SETUPS =
        List.of(
            new Setup(Routing.VXLAN, Datapath.STANDARD, "standard datapath, VXLAN"),
            new Setup(Routing.BGP, Datapath.STANDARD, "standard datapath, BGP routing"),
            new Setup(Routing.VXLAN, Datapath.EBPF, "eBPF datapath, VXLAN"),
            new Setup(Routing.BGP, Datapath.EBPF, "eBPF datapath, BGP routing"));

    @Override
    public Integer call() throws Exception {
      ThroughputBenchmark b = new ThroughputBenchmark(LabLayout.of("bench"), System.out);
      if (dualStack) {
        return dualStack(b);
      }
      double veth = b.bareVeth(seconds);
      b.report("bare veth pair (baseline)", veth);
      Map<String, Double> results = new LinkedHashMap<>();
      double[] underlay = new double[1];
      for (Setup setup : SETUPS) {
        double gbps =
            inBenchLab(
                LabSpec.of(2).withRouting(setup.routing()).withDatapath(setup.datapath()),
                lab -> {
                  if (underlay[0] == 0) {
                    // The nodes' own path (two veth pairs and the fabric's bridge): what any pod
                    // network between two nodes adds to, as Cilium's node-to-node baseline.
                    underlay[0] =
                        b.iperf(
                            lab.layout().nodeNs(LabLayout.nodeName(2)),
                            LabLayout.nodeIp(2),
                            lab.layout().nodeNs(LabLayout.nodeName(1)),
                            seconds);
                    b.report("node-1 -> node-2 over the underlay (baseline)", underlay[0]);
                  }
                  return podToPod(lab, b, seconds);
                });
        b.report("pod node-1 -> pod node-2, " + setup.name(), gbps);
        results.put(setup.name(), gbps);
      }
      results.forEach(
          (name, gbps) ->
              System.out.printf(
                  "ratio %s: %.2f of a bare veth pair, %.2f of node to node%n",
                  name, gbps / veth, gbps / underlay[0]));
      return 0;
    }

    /**
     * IPv6 against IPv4 between the same two pods, in alternation (this machine's runs drift over
     * minutes); with VXLAN, a third path: IPv6 pods carried by the IPv4 tunnel (Cilium's way), set
     * up beside the agent's routes for the two pods alone.
     */
    private int dualStack(ThroughputBenchmark b) throws Exception {
      for (Routing routing : List.of(Routing.VXLAN, Routing.BGP)) {
        inBenchLab(
            LabSpec.of(2).withRouting(routing).withIpFamilies(IpFamilies.DUAL),
            lab -> {
              podToPod(lab, b, 1); // creates the pods; the figure is not used
              PodResource client = benchPod(lab, "client");
              PodResource server = benchPod(lab, "server");
              String serverNs = server.annotation(PodResource.NETNS_ANNOTATION).orElseThrow();
              String clientNs = client.annotation(PodResource.NETNS_ANNOTATION).orElseThrow();
              String v4 = server.podIp(IpFamily.IPV4).orElseThrow();
              String v6 = server.podIp(IpFamily.IPV6).orElseThrow();
              List<Double> four = new ArrayList<>();
              List<Double> six = new ArrayList<>();
              List<Double> sixOverFour = new ArrayList<>();
              for (int r = 0; r < rounds; r++) {
                four.add(b.iperf(serverNs, v4, clientNs, seconds));
                six.add(b.iperf(serverNs, v6, clientNs, seconds));
                if (routing == Routing.VXLAN) {
                  try (var tunnel = b.ipv6OverIpv4Tunnel(lab.layout(), client, server)) {
                    sixOverFour.add(b.iperf(serverNs, v6, clientNs, seconds));
                  }
                }
              }
              double m4 = Stats.of(four).median();
              double m6 = Stats.of(six).median();
              String name = routing == Routing.VXLAN ? "VXLAN" : "BGP";
              b.report("pod node-1 -> pod node-2, IPv4, " + name, m4);
              b.report("pod node-1 -> pod node-2, IPv6, " + name, m6);
              System.out.printf("ratio IPv6/IPv4, %s: %.3f%n", name, m6 / m4);
              if (!sixOverFour.isEmpty()) {
                double m64 = Stats.of(sixOverFour).median();
                b.report("pod node-1 -> pod node-2, IPv6 in the IPv4 tunnel", m64);
                System.out.printf(
                    "ratio IPv6 in the IPv4 tunnel / IPv6 in the IPv6 tunnel: %.3f%n", m64 / m6);
              }
              return null;
            });
      }
      return 0;
    }

    private static PodResource benchPod(Lab lab, String name) {
      try (Datastore store = LabStores.open(lab.layout())) {
        return PodResource.from(store.get("Pod/default/" + name).orElseThrow().value());
      }
    }

    private static double podToPod(Lab lab, ThroughputBenchmark b, int seconds) throws Exception {
      apply(
          lab,
          "kind: Pod\nmetadata: {name: client}\nspec: {nodeName: node-1, containers: [{name: c}]}\n---\n"
              + "kind: Pod\nmetadata: {name: server}\nspec: {nodeName: node-2, containers: [{name: c}]}\n");
      PodResource client;
      PodResource server;
      try (Datastore store = LabStores.open(lab.layout())) {
        client = PodResource.from(store.get("Pod/default/client").orElseThrow().value());
        server = PodResource.from(store.get("Pod/default/server").orElseThrow().value());
      }
      return b.iperf(
          server.annotation(PodResource.NETNS_ANNOTATION).orElseThrow(),
          server.podIp().orElseThrow(),
          client.annotation(PodResource.NETNS_ANNOTATION).orElseThrow(),
          seconds);
    }
  }

  @Command(
      name = "policy",
      description = "NetworkPolicy programming cost on one node: full sync and one pod relabelled.")
  static final class Policy implements Callable<Integer> {
    @Option(names = "--policies", defaultValue = "1000")
    int policies;

    @Option(names = "--pods", defaultValue = "1000")
    int pods;

    @Mixin DataplanesOption modes;

    @Override
    public Integer call() {
      for (Dataplane mode : modes.dataplanes()) {
        new PolicySyncBenchmark(System.out).run(policies, pods, mode);
      }
      return 0;
    }
  }

  @Command(
      name = "agent",
      description =
          "The agent process's resident memory and CPU at idle, while it programs S Services x E"
              + " endpoints, P policies and N local pods, and idle again, per dataplane, with the"
              + " lab's JVM settings and with the JVM's defaults in one run.")
  static final class AgentLoad implements Callable<Integer> {
    @Mixin DataplanesOption modes;

    @Option(names = "--services", defaultValue = "10000", description = "Services.")
    int services;

    @Option(names = "--endpoints", defaultValue = "10", description = "Endpoints per Service.")
    int endpoints;

    @Option(names = "--policies", defaultValue = "1000", description = "NetworkPolicies.")
    int policies;

    @Option(names = "--pods", defaultValue = "1000", description = "Pods on the agent's node.")
    int pods;

    @Option(names = "--idle-seconds", defaultValue = "10", description = "Each idle window.")
    int idleSeconds;

    @Option(
        names = "--jvm",
        defaultValue = "all",
        description = "lab (the lab's agent settings) | jvm-defaults | all (both, compared)")
    String jvm;

    @Option(
        names = "--jvm-flags",
        split = " ",
        description = "Run the agent with these JVM flags instead (named custom), e.g. -Xmx256m.")
    List<String> jvmFlags;

    @Option(
        names = "--pod-adds",
        defaultValue = "100",
        description =
            "Pods added one at a time after the loaded idle window, each timed from its"
                + " write to the store until the agent has programmed it (0: none).")
    int podAdds;

    @Option(
        names = "--baseline-jar",
        description =
            "Also run each case with the agent of this jar (another build, named"
                + " baseline), with the lab's settings, before this build's.")
    Path baselineJar;

    @Mixin OutputOption output;

    @Override
    public Integer call() throws Exception {
      boolean json = output.json();
      var bench = new AgentLoadBenchmark(json ? System.err : System.out);
      var settings =
          new ArrayList<>(
              jvmFlags != null
                  ? List.of(new AgentLoadBenchmark.JvmSettings("custom", jvmFlags))
                  : AgentLoadBenchmark.SETTINGS.stream()
                      .filter(x -> jvm.equals("all") || x.name().equals(jvm))
                      .toList());
      if (baselineJar != null) {
        if (!Files.isRegularFile(baselineJar)) {
          throw new IllegalArgumentException("--baseline-jar: no file " + baselineJar);
        }
        settings.addFirst(
            new AgentLoadBenchmark.JvmSettings(
                "baseline", LabProcesses.AGENT_JVM, Optional.of(baselineJar)));
      }
      var results =
          bench.run(
              modes.dataplanes(),
              settings,
              services,
              endpoints,
              policies,
              pods,
              idleSeconds,
              podAdds);
      if (json) {
        System.out.println(AgentLoadBenchmark.toJson(results).toPrettyString());
      }
      return results.stream().allMatch(r -> r.error().isEmpty()) ? 0 : 1;
    }
  }

  @Command(
      name = "journal",
      description =
          "The embedded datastore's journal after many pod create/delete cycles, compacted and"
              + " never compacted, in one run: its size and the time per cycle.")
  static final class Journal implements Callable<Integer> {
    @Option(names = "--cycles", defaultValue = "10000", description = "Pods created and deleted.")
    int cycles;

    @Override
    public Integer call() throws Exception {
      new JournalBenchmark(System.out).run(cycles);
      return 0;
    }
  }

  @Command(
      name = "observe",
      description =
          "What observing flows costs the eBPF datapath (connections/s and throughput, flow events"
              + " on vs off) and how many flows a second the agent records before events are lost.")
  static final class Observe implements Callable<Integer> {
    @Option(names = "--seconds", defaultValue = "3", description = "Each measurement's length.")
    int seconds;

    @Option(names = "--rounds", defaultValue = "3", description = "On/off rounds (medians).")
    int rounds;

    @Option(
        names = "--events",
        defaultValue = "2000000",
        description = "Events produced for the capacity run.")
    int events;

    @Override
    public Integer call() throws Exception {
      new ObserveBenchmark(System.out).run(seconds, rounds, events);
      return 0;
    }
  }

  @Command(
      name = "datapath",
      description =
          "What a packet costs the eBPF programs in each family: from_container on an established"
              + " connection to a remote pod, IPv4 and IPv6 alternated (BPF_PROG_TEST_RUN).")
  static final class DatapathPackets implements Callable<Integer> {
    @Option(names = "--packets", defaultValue = "1000000", description = "Packets a run.")
    int packets;

    @Option(names = "--rounds", defaultValue = "5", description = "Runs of each family (medians).")
    int rounds;

    @Override
    public Integer call() throws Exception {
      new DatapathPacketBenchmark(System.out).run(packets, rounds);
      return 0;
    }
  }

  @Command(
      name = "services",
      description = "Service sync cost and first-connection latency at scale.")
  static final class Services implements Callable<Integer> {
    @Option(
        names = "--services",
        defaultValue = "100,1000,10000",
        split = ",",
        description = "Service counts.")
    List<Integer> counts;

    @Option(names = "--endpoints-per-service", defaultValue = "10")
    int endpoints;

    @Option(
        names = "--connections",
        defaultValue = "50",
        description = "New connections timed per count.")
    int connections;

    @Mixin DataplanesOption modes;

    @Option(
        names = "--rounds",
        defaultValue = "5",
        description = "nftables: syncs per case and writer, of which the median is reported.")
    int rounds;

    @Option(
        names = "--no-writer-comparison",
        description =
            "nftables: skip the netlink writer against nft -f (at 10,000 services nft -f takes"
                + " minutes).")
    boolean noWriterComparison;

    @Mixin OutputOption output;

    @Override
    public Integer call() throws Exception {
      boolean json = output.json();
      PrintStream log = json ? System.err : System.out;
      // With -o json, one document on standard output: every dataplane's figures, and the
      // nftables writers' side by side; the lines for people go to standard error.
      ObjectNode doc = Json.object();
      ArrayNode byDataplane = doc.putArray("services");
      ArrayNode writers = doc.putArray("nftablesWriters");
      for (Dataplane mode : modes.dataplanes()) {
        var results = new ServiceSyncBenchmark(log).run(counts, endpoints, connections, mode);
        for (var r : results) {
          ObjectNode o = Json.MAPPER.valueToTree(r);
          o.put("mode", mode.id());
          byDataplane.add(o);
        }
        var first = results.getFirst();
        var last = results.getLast();
        log.printf(
            "%s first-connection median at N=%d vs N=%d: %.2fx%n",
            mode.id(),
            last.services(),
            first.services(),
            last.firstConnection().median() / first.firstConnection().median());
        if (mode != Dataplane.NFTABLES || noWriterComparison) {
          continue;
        }
        for (int n : counts) {
          var byWriter = NftWriterBenchmark.run(n, endpoints, rounds);
          for (var r : byWriter) {
            if (json) {
              writers.add(Json.MAPPER.valueToTree(r));
            } else {
              System.out.printf(
                  "nftables N=%-6d writer %-7s full sync %9.1f ms (tweed %4.1f%%), one endpoint"
                      + " changed %8.2f ms (write %8.2f ms), one service added %8.2f ms, removed"
                      + " %8.2f ms%n",
                  n,
                  r.writer(),
                  r.fullSyncMs(),
                  100 * r.fullSyncTweedShare(),
                  r.endpointChangeMs(),
                  r.endpointChangeWriteMs(),
                  r.serviceAddMs(),
                  r.serviceRemoveMs());
            }
          }
          var nft = byWriter.getFirst();
          var netlink = byWriter.getLast();
          log.printf(
              "nftables N=%d netlink vs nft: full sync %.1fx, endpoint change %.1fx, add %.1fx,"
                  + " remove %.1fx faster%n",
              n,
              nft.fullSyncMs() / netlink.fullSyncMs(),
              nft.endpointChangeMs() / netlink.endpointChangeMs(),
              nft.serviceAddMs() / netlink.serviceAddMs(),
              nft.serviceRemoveMs() / netlink.serviceRemoveMs());
        }
      }
      if (json) {
        System.out.println(Json.pretty(doc));
      }
      return 0;
    }
  }

  @Command(
      name = "rules",
      description = "JMH: rule generation alone (no kernel) for many services.")
  static final class Rules implements Callable<Integer> {
    @Option(names = "--services", defaultValue = "10000")
    String services;

    @Override
    public Integer call() throws Exception {
      return jmh(RuleGenerationBenchmark.class, Map.of("services", services));
    }
  }

  @Command(
      name = "graph",
      description =
          "JMH: the calculation graph's cost of one change, from scratch against incremental, in"
              + " one run: a block at N nodes, an endpoint at S Services.")
  static final class Graph implements Callable<Integer> {
    @Option(names = "--nodes", defaultValue = "1000")
    String nodes;

    @Option(names = "--services", defaultValue = "10000")
    String services;

    @Override
    public Integer call() throws Exception {
      return jmh(GraphUpdateBenchmark.class, Map.of("nodes", nodes, "services", services));
    }
  }

  @Command(
      name = "trace",
      description =
          "The trace model against the kernel: random labs, random flows, each traced and sent for"
              + " real with nftables tracing (and the eBPF programs reporting their runs); the share"
              + " whose rule path, program runs and verdict agree.")
  static final class TraceFidelityBench implements Callable<Integer> {
    @Option(
        names = "--flows",
        defaultValue = "10000",
        description = "Flows in all (default 10000).")
    int flows;

    @Option(names = "--labs", defaultValue = "5", description = "Random labs to spread them over.")
    int labs;

    @Option(names = "--seed", defaultValue = "1")
    long seed;

    @Mixin DataplanesOption modes;

    @Option(
        names = "--ip-family",
        defaultValue = "ipv4",
        description =
            "ipv4 | ipv6 | dual: the standard datapath's labs (flows of every family the lab has);"
                + " eBPF labs stay IPv4.")
    IpFamilies ipFamily;

    @Override
    public Integer call() throws Exception {
      int agreed = 0;
      int total = 0;
      double seconds = 0;
      double modelSeconds = 0;
      List<String> disagreements = new ArrayList<>();
      for (int k = 0; k < labs; k++) {
        long labSeed = seed + k;
        int nodes = 2 + (int) (labSeed % 2);
        int n = flows / labs + (k < flows % labs ? 1 : 0);
        // Labs take the chosen dataplanes in turn.
        List<Dataplane> chosen = modes.dataplanes();
        Dataplane labMode = chosen.get(k % chosen.size());
        IpFamilies families = labMode == Dataplane.EBPF ? IpFamilies.IPV4 : ipFamily;
        TraceFidelity.Report r =
            inBenchLab(
                LabSpec.of(nodes).withDataplane(labMode).withIpFamilies(families),
                lab -> {
                  apply(lab, RandomLabResources.yaml(labSeed, nodes, families == IpFamilies.DUAL));
                  TraceFidelity.settle(lab, nodes);
                  return TraceFidelity.run(lab, labSeed, n, System.out);
                });
        System.out.printf(
            "lab %d (seed %d, %d nodes, %s, %s): %s%n",
            k + 1, labSeed, nodes, labMode.id(), families.id(), r.summary());
        r.disagreements().forEach(d -> System.out.println("  differs: " + d));
        System.out.printf("  replies compared apart: %d differ%n", r.replyDisagreements().size());
        r.replyDisagreements().forEach(d -> System.out.println("  reply differs: " + d));
        agreed += r.agreed();
        total += r.flows();
        seconds += r.seconds();
        modelSeconds += r.modelSeconds();
        disagreements.addAll(r.disagreements());
      }
      System.out.printf(
          "fidelity: %d/%d flows (%.2f%%) agree with the kernel on rule path and verdict%n",
          agreed, total, 100.0 * agreed / total);
      System.out.printf(
          "model: %.2f ms per flow; verified send (kernel baseline, incl. tracing): %.1f ms per flow;"
              + " ratio %.3f%n",
          1000 * modelSeconds / total, 1000 * seconds / total, modelSeconds / seconds);
      return disagreements.isEmpty() ? 0 : 1;
    }
  }

  @Command(
      name = "bgp",
      description =
          "BGP convergence after a node fails and returns, with Tweed's timers against the BGP hold"
              + " timer alone (the baseline) and against BFD without graceful restart.")
  static final class BgpConvergence implements Callable<Integer> {
    @Option(names = "--rounds", defaultValue = "3", description = "Stops and starts per setting.")
    int rounds;

    @Option(
        names = "--dual-stack",
        description = "In a dual-stack lab: the IPv6 routes timed beside the IPv4 ones.")
    boolean dualStack;

    @Override
    public Integer call() throws Exception {
      return inLab(
          "bench-bgp",
          lab -> {
            lab.up(
                LabSpec.of(3)
                    .withRouting(Routing.BGP)
                    .withIpFamilies(dualStack ? IpFamilies.DUAL : IpFamilies.IPV4));
            apply(
                lab,
                "kind: Pod\nmetadata: {name: p3}\nspec: {nodeName: node-3, containers: [{name:"
                    + " c}]}\n");
          },
          lab -> {
            var b = new BgpConvergenceBenchmark(lab, System.out);
            var d = BgpConfiguration.defaults();
            var holdOnly =
                b.run(
                    "hold timer only (9 s; no BFD, no graceful restart)",
                    new BgpConfiguration(
                        d.asNumber(), 9, 3, 0, 3, false, d.restartSeconds(), List.of()),
                    rounds);
            var bfdOnly =
                b.run(
                    "BFD 100 ms x 3, no graceful restart",
                    new BgpConfiguration(
                        d.asNumber(), 9, 3, 100, 3, false, d.restartSeconds(), List.of()),
                    rounds);
            var tweed = b.run("Tweed's defaults (BFD + graceful restart 5 s)", d, rounds);
            for (var r : List.of(holdOnly, bfdOnly, tweed)) {
              System.out.printf(
                  "%-50s withdrawn: median %6.0f ms (%.2fx the hold timer alone); back: median %5.0f ms%n",
                  r.setting(),
                  r.withdrawnMs(),
                  r.withdrawnMs() / holdOnly.withdrawnMs(),
                  r.reconvergedMs());
              if (dualStack) {
                System.out.printf(
                    "%-50s IPv6 withdrawn: median %6.0f ms (%.2fx IPv4's); back: median %5.0f ms%n",
                    "", r.withdrawn6Ms(), r.withdrawn6Ms() / r.withdrawnMs(), r.reconverged6Ms());
              }
            }
            return 0;
          });
    }
  }

  @Command(
      name = "endpoints",
      description =
          "Time from an EndpointSlice change written to etcd until every node's kernel has it (a"
              + " 3-node etcd lab), and until N simulated agents' caches have it, against 3 (the"
              + " baseline).")
  static final class EndpointPropagation implements Callable<Integer> {
    @Option(names = "--rounds", defaultValue = "30", description = "Changes written per setting.")
    int rounds;

    @Option(names = "--agents", defaultValue = "100", description = "Simulated agents.")
    int agents;

    @Override
    public Integer call() throws Exception {
      return inLab(
          "bench-ep",
          lab -> lab.up(LabSpec.of(3).withEtcd(3)),
          lab -> {
            var b = new EndpointPropagationBenchmark(lab, System.out);
            var kernels = b.kernels(rounds);
            var few = b.watchers(3, rounds);
            var many = b.watchers(agents, rounds);
            for (var r : List.of(kernels, few, many)) {
              System.out.printf(
                  "%-36s each: p50 %7.1f ms  p99 %7.1f ms | last of a round: p50 %7.1f ms  p99 %7.1f"
                      + " ms%n",
                  r.what(),
                  r.perReceiver().median(),
                  r.perReceiver().p99(),
                  r.allReceivers().median(),
                  r.allReceivers().p99());
            }
            System.out.printf(
                "%d simulated agents against 3: p50 %.2fx, p99 %.2fx (each); last of a round p50"
                    + " %.2fx, p99 %.2fx%n",
                agents,
                many.perReceiver().median() / few.perReceiver().median(),
                many.perReceiver().p99() / few.perReceiver().p99(),
                many.allReceivers().median() / few.allReceivers().median(),
                many.allReceivers().p99() / few.allReceivers().p99());
            return 0;
          });
    }
  }
}
