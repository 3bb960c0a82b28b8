package dev.tweed.lab;

import dev.tweed.datastore.Datastore;
import dev.tweed.datastore.Entry;
import dev.tweed.kernel.NetnsDump;
import dev.tweed.kernel.NetnsState;
import dev.tweed.model.PodResource;
import dev.tweed.model.ResourceKey;
import dev.tweed.trace.NetnsCapture;
import dev.tweed.trace.TraceWorld;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Captures every namespace of a lab at once (fabric, router, nodes, pods), labelled the way people
 * name them: "x/a" for a pod, "node-1", "router", "fabric".
 */
public final class LabCapture {
  private LabCapture() {}

  public static Map<String, String> labels(LabLayout layout, Datastore store) {
    Map<String, String> labels = new LinkedHashMap<>();
    labels.put(layout.fabricNs(), "fabric");
    labels.put(layout.routerNs(), "router");
    for (String ns : Namespaces.list()) {
      String nodePrefix = layout.prefix() + "node-";
      if (ns.startsWith(nodePrefix)) {
        labels.put(ns, ns.substring(layout.prefix().length()));
      }
    }
    for (Entry e : store.list(ResourceKey.kindPrefix(PodResource.KIND)).entries()) {
      PodResource p = PodResource.from(e.value());
      labels.put(layout.netnsOf(p), p.qualifiedName());
    }
    return labels;
  }

  /** The files of every namespace of the lab, by namespace name. */
  public static Map<String, Map<String, String>> captureFiles(LabLayout layout) throws Exception {
    List<String> names =
        Namespaces.list().stream().filter(n -> n.startsWith(layout.prefix())).sorted().toList();
    Map<String, Map<String, String>> out = new LinkedHashMap<>();
    try (ExecutorService pool = Executors.newFixedThreadPool(8)) {
      List<Future<Map<String, String>>> futures = new ArrayList<>();
      for (String n : names) {
        Optional<Path> pins = bpfPins(layout, n);
        futures.add(pool.submit(() -> NetnsCapture.capture(Optional.of(n), pins)));
      }
      for (int i = 0; i < names.size(); i++) {
        out.put(names.get(i), futures.get(i).get());
      }
    }
    return out;
  }

  /** One namespace of the lab, its node's eBPF maps included. */
  public static NetnsState capture(LabLayout layout, String netns) {
    return NetnsDump.parse(NetnsCapture.capture(Optional.of(netns), bpfPins(layout, netns)));
  }

  /** A node's eBPF maps, where its agent runs the eBPF datapath. */
  private static Optional<Path> bpfPins(LabLayout layout, String netns) {
    String nodePrefix = layout.prefix() + "node-";
    if (!netns.startsWith(nodePrefix)) {
      return Optional.empty();
    }
    Path pins = LabBpf.pinDir(layout, netns.substring(layout.prefix().length()));
    return Files.isDirectory(pins) ? Optional.of(pins) : Optional.empty();
  }

  public static TraceWorld world(LabLayout layout, Datastore store) throws Exception {
    Map<String, NetnsState> states = new LinkedHashMap<>();
    captureFiles(layout).forEach((n, files) -> states.put(n, NetnsDump.parse(files)));
    return new TraceWorld(states, labels(layout, store));
  }

  /** Writes a capture of the whole lab: one directory per namespace, and the labels. */
  public static void write(LabLayout layout, Datastore store, Path dir) throws Exception {
    Map<String, String> labels = labels(layout, store);
    StringBuilder sb = new StringBuilder();
    for (var e : captureFiles(layout).entrySet()) {
      NetnsCapture.write(dir.resolve(e.getKey()), e.getValue());
      sb.append(e.getKey())
          .append(' ')
          .append(labels.getOrDefault(e.getKey(), e.getKey()))
          .append('\n');
    }
    Files.writeString(dir.resolve("labels.txt"), sb.toString());
  }
}
