package dev.tweed.bench;

import dev.tweed.dataplane.PolicyDataplane;
import dev.tweed.lab.Namespaces;
import dev.tweed.model.Ipv4;
import dev.tweed.policy.LabelSelector;
import dev.tweed.policy.NetworkPolicy;
import dev.tweed.policy.PolicyCalculator;
import dev.tweed.policy.PolicyIntent;
import dev.tweed.policy.PolicyPod;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Policy programming cost on one node: P policies over N local pods (10 namespaces; each policy
 * selects the pods of one app label and admits pods of another app from a labelled namespace on a
 * named port and a port range). Measures (a) the first full sync, split into Tweed's share
 * (calculation and rendering) and the kernel's (ipset and iptables-restore, or nft); (b) the
 * incremental sync after one pod's labels change. It runs in a scratch namespace; the interfaces
 * the rules name need not exist.
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

  public Result run(int policyCount, int podCount, String mode) {
    if (mode.equals("ebpf")) {
      return report(
          new EbpfPolicySyncBenchmark()
              .run(policies(policyCount), namespaces(), pods(podCount, -1), pods(podCount, 0)),
          policyCount,
          podCount);
    }
    String ns = "tw-bench-policy";
    Namespaces.delete(ns);
    Namespaces.add(ns);
    try {
      PolicyCalculator calc = new PolicyCalculator("bench-node");
      List<NetworkPolicy> policies = policies(policyCount);
      Map<String, Map<String, String>> namespaces = namespaces();
      PolicyDataplane dataplane = PolicyDataplane.of(mode, List.of("ip", "netns", "exec", ns));

      long t0 = System.nanoTime();
      PolicyIntent intent = calc.calculate(pods(podCount, -1), namespaces, policies);
      Object rules = dataplane.render(intent);
      long t1 = System.nanoTime();
      dataplane.write(rules, true);
      long t2 = System.nanoTime();
      PolicyIntent changed = calc.calculate(pods(podCount, 0), namespaces, policies);
      Object next = dataplane.render(changed);
      long t3 = System.nanoTime();
      dataplane.write(next, false);
      long t4 = System.nanoTime();
      return report(
          new Result(mode, (t1 - t0) / 1e6, (t2 - t1) / 1e6, (t3 - t2) / 1e6, (t4 - t3) / 1e6),
          policyCount,
          podCount);
    } finally {
      Namespaces.delete(ns);
    }
  }

  private Result report(Result r, int policyCount, int podCount) {
    out.printf(
        "%-8s %d policies over %d pods: full sync %8.1f ms (tweed %6.1f ms = %4.1f%%, kernel %8.1f ms);"
            + " one pod relabelled: %6.1f ms (tweed %5.1f ms, kernel %6.1f ms) = %.3fx of full%n",
        r.mode(),
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
