package dev.tweed.bench;

import dev.tweed.dataplane.PolicyDataplane;
import dev.tweed.lab.Namespaces;
import dev.tweed.model.Dataplane;
import dev.tweed.model.Ipv4;
import dev.tweed.model.ProxyMode;
import dev.tweed.policy.IncrementalPolicyCalculator;
import dev.tweed.policy.LabelSelector;
import dev.tweed.policy.NetworkPolicy;
import dev.tweed.policy.PolicyIntent;
import dev.tweed.policy.PolicyPod;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Policy programming cost on one node: P policies over N local pods (10 namespaces; each policy
 * selects the pods of one app label and admits pods of another app from a labelled namespace on a
 * named port and a port range). Measures (a) the first full sync, split into Tweed's share
 * (calculation and rendering) and the kernel's (ipset and iptables-restore, or nft, or the eBPF
 * maps); (b) the sync after one pod's labels change, fed through the incremental calculation as the
 * agent feeds it, measured back and forth {@link #RELABELS} times (median). It runs in a scratch
 * namespace; the interfaces the rules name need not exist.
 */
public final class PolicySyncBenchmark {
  private static final int NAMESPACES = 10;
  private static final int APPS = 50;
  private final PrintStream out;

  public PolicySyncBenchmark(PrintStream out) {
    this.out = out;
  }

  /** Figures for one mode. */
  public record Result(
      String mode,
      String writer,
      double tweedMs,
      double kernelMs,
      double incrementalTweedMs,
      double incrementalKernelMs) {}

  static List<PolicyPod> pods(int n, int relabelled) {
    List<PolicyPod> pods = new ArrayList<>();
    int base = Ipv4.parse("10.244.0.0");
    for (int i = 0; i < n; i++) {
      int app = i == relabelled ? (i + 1) % APPS : i % APPS;
      pods.add(
          new PolicyPod(
              "ns-" + (i % NAMESPACES),
              "pod-" + i,
              Map.of("app", "app-" + app, "tier", "t" + (i % 3)),
              Optional.of(Ipv4.format(base + 2 + i)),
              Optional.of("bench-node"),
              List.of(new PolicyPod.NamedPort("http", 8080, "TCP")),
              Optional.of(String.format("twb%010d", i))));
    }
    return pods;
  }

  static Map<String, Map<String, String>> namespaces() {
    Map<String, Map<String, String>> ns = new HashMap<>();
    for (int i = 0; i < NAMESPACES; i++) {
      ns.put("ns-" + i, Map.of("team", "team-" + (i % 3)));
    }
    return ns;
  }

  static List<NetworkPolicy> policies(int p) {
    List<NetworkPolicy> out = new ArrayList<>();
    for (int j = 0; j < p; j++) {
      LabelSelector selected = new LabelSelector(Map.of("app", "app-" + (j % APPS)), List.of());
      NetworkPolicy.Peer peer =
          new NetworkPolicy.PodPeer(
              Optional.of(new LabelSelector(Map.of("team", "team-" + (j % 3)), List.of())),
              new LabelSelector(Map.of("app", "app-" + ((j + 7) % APPS)), List.of()));
      List<NetworkPolicy.PolicyPort> ports =
          List.of(
              new NetworkPolicy.PolicyPort(
                  "TCP", Optional.empty(), Optional.of("http"), Optional.empty()),
              new NetworkPolicy.PolicyPort(
                  "TCP", Optional.of(9000 + j % 100), Optional.empty(), Optional.of(9100)));
      out.add(
          new NetworkPolicy(
              "ns-" + (j % NAMESPACES),
              "policy-" + j,
              selected,
              Optional.of(List.of(new NetworkPolicy.Rule(List.of(peer), ports))),
              Optional.empty()));
    }
    return out;
  }

  /** How often the relabel is measured (back and forth between two labels): the median counts. */
  static final int RELABELS = 11;

  static final int WARMUP = 10;

  /** A mode's share of one sync: turning the intent into its rules (Tweed) and writing them. */
  interface Mode extends AutoCloseable {
    /** {@code [tweedNanos, kernelNanos]}. */
    long[] sync(PolicyIntent intent, List<PolicyPod> pods, boolean full);

    @Override
    void close();
  }

  /**
   * Figures for {@code mode}; nftables once per writer, netlink batches and {@code nft -f} side by
   * side.
   */
  public List<Result> run(int policyCount, int podCount, Dataplane mode) {
    if (mode != Dataplane.NFTABLES) {
      return List.of(run(policyCount, podCount, mode, false));
    }
    return List.of(run(policyCount, podCount, mode, false), run(policyCount, podCount, mode, true));
  }

  private Result run(int policyCount, int podCount, Dataplane mode, boolean nft) {
    List<NetworkPolicy> policies = policies(policyCount);
    Map<String, Map<String, String>> namespaces = namespaces();
    List<PolicyPod> original = pods(podCount, -1);
    List<PolicyPod> relabelled = pods(podCount, 0);
    String writer = mode == Dataplane.NFTABLES ? (nft ? "nft" : "netlink") : mode.id();
    try (Mode m =
        mode == Dataplane.EBPF
            ? new EbpfPolicySyncBenchmark(namespaces)
            : netfilter(mode.proxyMode(), nft)) {
      IncrementalPolicyCalculator graph = new IncrementalPolicyCalculator("bench-node");
      long t0 = System.nanoTime();
      namespaces.forEach((n, l) -> graph.namespace(n, Optional.of(l)));
      policies.forEach(p -> graph.policy(p.qualifiedName(), Optional.of(p)));
      original.forEach(p -> graph.pod(p.qualifiedName(), Optional.of(p)));
      PolicyIntent intent = graph.intent();
      long calc = System.nanoTime() - t0;
      if (mode == Dataplane.NFTABLES) {
        warmUp(intent, nft);
      }
      long[] full = m.sync(intent, original, true);
      double[] tweed = new double[RELABELS];
      double[] kernel = new double[RELABELS];
      // The first relabels run while the JIT is still compiling their code: as in JMH, warm-up
      // rounds are not counted.
      for (int i = -WARMUP; i < RELABELS; i++) {
        List<PolicyPod> pods = (i + WARMUP) % 2 == 0 ? relabelled : original;
        long t = System.nanoTime();
        graph.pod(pods.getFirst().qualifiedName(), Optional.of(pods.getFirst()));
        PolicyIntent next = graph.intent();
        long c = System.nanoTime() - t;
        long[] r = m.sync(next, pods, false);
        if (i >= 0) {
          tweed[i] = (c + r[0]) / 1e6;
          kernel[i] = r[1] / 1e6;
        }
      }
      return report(
          new Result(
              mode.id(),
              writer,
              (calc + full[0]) / 1e6,
              full[1] / 1e6,
              median(tweed),
              median(kernel)),
          policyCount,
          podCount);
    }
  }

  private static double median(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    return s[s.length / 2];
  }

  /**
   * One full sync of {@code intent} in a namespace of its own, not counted: the netlink writer's
   * first one in this JVM would otherwise carry the loading and compiling of its code, which the
   * nft tool, a process of its own, never counts.
   */
  private static void warmUp(PolicyIntent intent, boolean nft) {
    String ns = "tw-bench-policy-warm";
    Namespaces.delete(ns);
    Namespaces.add(ns);
    try {
      writeWhole(PolicyDataplane.inNamespace(ProxyMode.NFTABLES, ns, nft), intent);
    } finally {
      Namespaces.delete(ns);
    }
  }

  /** iptables or nftables, in a scratch namespace. */
  private static <R> void writeWhole(PolicyDataplane<R> d, PolicyIntent intent) {
    d.write(d.render(intent), true);
  }

  private static Mode netfilter(ProxyMode mode, boolean nft) {
    String ns = "tw-bench-policy";
    Namespaces.delete(ns);
    Namespaces.add(ns);
    return netfilter(PolicyDataplane.inNamespace(mode, ns, nft), ns);
  }

  private static <R> Mode netfilter(PolicyDataplane<R> dataplane, String ns) {
    return new Mode() {
      @Override
      public long[] sync(PolicyIntent intent, List<PolicyPod> pods, boolean full) {
        long t0 = System.nanoTime();
        R rules = dataplane.render(intent);
        long t1 = System.nanoTime();
        dataplane.write(rules, full);
        return new long[] {t1 - t0, System.nanoTime() - t1};
      }

      @Override
      public void close() {
        Namespaces.delete(ns);
      }
    };
  }

  private Result report(Result r, int policyCount, int podCount) {
    out.printf(
        "%-8s %-8s %d policies over %d pods: full sync %8.1f ms (tweed %6.1f ms = %4.1f%%, kernel %8.1f ms);"
            + " one pod relabelled (median of "
            + RELABELS
            + " after "
            + WARMUP
            + " warm-up rounds): %6.1f ms (tweed %5.1f ms, kernel %6.1f ms) = %.3fx of full%n",
        r.mode(),
        r.mode().equals("nftables") ? r.writer() : "",
        policyCount,
        podCount,
        r.tweedMs() + r.kernelMs(),
        r.tweedMs(),
        100 * r.tweedMs() / (r.tweedMs() + r.kernelMs()),
        r.kernelMs(),
        r.incrementalTweedMs() + r.incrementalKernelMs(),
        r.incrementalTweedMs(),
        r.incrementalKernelMs(),
        (r.incrementalTweedMs() + r.incrementalKernelMs()) / (r.tweedMs() + r.kernelMs()));
    return r;
  }
}
