package dev.tweed.bench;

import dev.tweed.ebpf.Datapath;
import dev.tweed.ebpf.DatapathMapWriter;
import dev.tweed.ebpf.DatapathMaps;
import dev.tweed.ebpf.DatapathObject;
import dev.tweed.ebpf.EbpfIntent;
import dev.tweed.ebpf.EbpfIntentCalculator;
import dev.tweed.ebpf.Identities;
import dev.tweed.model.NodeResource;
import dev.tweed.model.WorkloadEndpoint;
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
 * The policy benchmark's eBPF mode: Tweed's share is the identities and the map contents (the
 * calculator kept across syncs, as the agent keeps it); the kernel's is writing the maps through
 * {@code bpf(2)} (a datapath loaded with its maps pinned on a bpffs of the benchmark's own, nothing
 * attached). Endpoints get made-up interface indexes: no veth exists.
 */
final class EbpfPolicySyncBenchmark implements PolicySyncBenchmark.Mode {
  private static final int POLICY_ENTRIES = 1 << 20;
  private final Map<String, Map<String, String>> namespaces;
  private final Path dir;
  private final Path fs;
  private final Datapath datapath;
  private final DatapathMapWriter writer;
  private final EbpfIntentCalculator calc = new EbpfIntentCalculator("bench-node");
  private final Map<List<String>, Integer> ids = new HashMap<>();

  EbpfPolicySyncBenchmark(Map<String, Map<String, String>> namespaces) {
    this.namespaces = namespaces;
    try {
      dir = Files.createTempDirectory("tw-bench-bpf");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    fs = dir.resolve("fs");
    fs.toFile().mkdirs();
    Path object = DatapathObject.build(dir.resolve("obj"));
    Command.run(List.of("mount", "-t", "bpf", "tw-bench", fs.toString()));
    datapath =
        Datapath.load(object, fs.resolve("node"), Map.of(DatapathMaps.POLICY, POLICY_ENTRIES));
    writer = new DatapathMapWriter(datapath);
  }

  @Override
  public long[] sync(PolicyIntent policy, List<PolicyPod> pods, boolean full) {
    long t0 = System.nanoTime();
    Map<String, String> macs = new HashMap<>();
    for (PolicyPod p : pods) {
      List<String> labels = calc.labelsOf(p, namespaces);
      ids.computeIfAbsent(labels, l -> Identities.FIRST_CLUSTER + ids.size());
      macs.put(p.ip().orElseThrow(), "02:00:00:00:00:01");
    }
    EbpfIntent intent =
        calc.calculate(
            new EbpfIntentCalculator.Inputs(
                List.of(new NodeResource("bench-node", "172.31.0.11")),
                List.of(),
                pods,
                namespaces,
                macs,
                ids,
                policy));
    long t1 = System.nanoTime();
    var written =
        writer.write(intent, EbpfPolicySyncBenchmark::ifindex, WorkloadEndpoint.HOST_MAC, full);
    long t2 = System.nanoTime();
    if (full) {
      System.out.printf(
          "ebpf     %d policy entries, %d identities%n", intent.policySize(), ids.size());
    } else if (written.written() + written.removed() == 0) {
      throw new IllegalStateException("a relabel changed no map entry");
    }
    return new long[] {t1 - t0, t2 - t1};
  }

  /** A made-up interface index per veth name (the maps take any number). */
  private static int ifindex(String name) {
    return 1000 + Integer.parseInt(name.substring(3));
  }

  @Override
  public void close() {
    datapath.close();
    Command.exec(List.of("umount", fs.toString()), "", Map.of());
    Command.exec(List.of("rm", "-rf", dir.toString()), "", Map.of());
  }
}
