package dev.tweed.bench;

import dev.tweed.ebpf.Datapath;
import dev.tweed.ebpf.DatapathMapWriter;
import dev.tweed.ebpf.DatapathMaps;
import dev.tweed.ebpf.DatapathObject;
import dev.tweed.ebpf.EbpfIntent;
import dev.tweed.ebpf.EbpfIntentCalculator;
import dev.tweed.ebpf.Identities;
import dev.tweed.model.NodeResource;
import dev.tweed.policy.NetworkPolicy;
import dev.tweed.policy.PolicyCalculator;
import dev.tweed.policy.PolicyIntent;
import dev.tweed.policy.PolicyPod;
import dev.tweed.sys.Command;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The policy benchmark's eBPF mode: Tweed's share is the policy calculation, identities and the map
 * contents; the kernel's is writing the maps through {@code bpf(2)} (a datapath loaded with its
 * maps pinned on a bpffs of the benchmark's own, nothing attached). Endpoints get made-up interface
 * indexes: no veth exists.
 */
final class EbpfPolicySyncBenchmark {
  private static final String HOST_MAC = "ee:ee:ee:ee:ee:ee";

  PolicySyncBenchmark.Result run(
      List<NetworkPolicy> policies,
      Map<String, Map<String, String>> namespaces,
      List<PolicyPod> pods,
      List<PolicyPod> relabelled) {
    Path dir;
    try {
      dir = Files.createTempDirectory("tw-bench-bpf");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    Path fs = dir.resolve("fs");
    fs.toFile().mkdirs();
    Path object = DatapathObject.build(dir.resolve("obj"));
    Command.run(List.of("mount", "-t", "bpf", "tw-bench", fs.toString()));
    try {
      Map<List<String>, Integer> ids = new HashMap<>();
      long t0 = System.nanoTime();
      EbpfIntent first = intent(policies, namespaces, pods, ids);
      long t1 = System.nanoTime();
      int entries = first.policySize();
      try (Datapath d =
          Datapath.load(
              object,
              fs.resolve("node"),
              Map.of(DatapathMaps.POLICY, Math.max(1024, entries * 2)))) {
        DatapathMapWriter writer = new DatapathMapWriter(d);
        long t2 = System.nanoTime();
        writer.write(first, EbpfPolicySyncBenchmark::ifindex, HOST_MAC, false);
        long t3 = System.nanoTime();
        EbpfIntent next = intent(policies, namespaces, relabelled, ids);
        long t4 = System.nanoTime();
        var changed = writer.write(next, EbpfPolicySyncBenchmark::ifindex, HOST_MAC, false);
        long t5 = System.nanoTime();
        System.out.printf(
            "ebpf     %d policy entries, %d identities; the relabel wrote %d entries and removed %d%n",
            entries, first.identities().size(), changed.written(), changed.removed());
        return new PolicySyncBenchmark.Result(
            "ebpf", (t1 - t0) / 1e6, (t3 - t2) / 1e6, (t4 - t3) / 1e6, (t5 - t4) / 1e6);
      }
    } finally {
      Command.exec(List.of("umount", fs.toString()), "", Map.of());
      Command.exec(List.of("rm", "-rf", dir.toString()), "", Map.of());
    }
  }

  /** A made-up interface index per veth name (the maps take any number). */
  private static int ifindex(String name) {
    return 1000 + Integer.parseInt(name.substring(3));
  }

  private static EbpfIntent intent(
      List<NetworkPolicy> policies,
      Map<String, Map<String, String>> namespaces,
      List<PolicyPod> pods,
      Map<List<String>, Integer> ids) {
    PolicyIntent policy = new PolicyCalculator("bench-node").calculate(pods, namespaces, policies);
    Map<String, String> macs = new HashMap<>();
    for (PolicyPod p : pods) {
      List<String> labels =
          Identities.labels(
              p.namespace(), p.labels(), namespaces.getOrDefault(p.namespace(), Map.of()));
      ids.computeIfAbsent(labels, l -> Identities.FIRST_CLUSTER + ids.size());
      macs.put(p.ip().orElseThrow(), "02:00:00:00:00:01");
    }
    return new EbpfIntentCalculator("bench-node")
        .calculate(
            new EbpfIntentCalculator.Inputs(
                List.of(new NodeResource("bench-node", "172.31.0.11")),
                List.of(),
                pods,
                namespaces,
                macs,
                ids,
                policy));
  }
}
