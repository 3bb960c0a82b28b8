package dev.tweed.bench;

import dev.tweed.ebpf.Datapath;
import dev.tweed.ebpf.DatapathMaps;
import dev.tweed.ebpf.DatapathObject;
import dev.tweed.ebpf.EbpfIntent;
import dev.tweed.lab.Namespaces;
import dev.tweed.sys.Command;
import dev.tweed.sys.Libc;
import dev.tweed.sys.NetworkNamespace;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * The eBPF benchmarks' bench: a client namespace (a pod, {@link #CLIENT}) whose veth leads into a
 * node namespace (the caller's, {@link #NODE_SIDE} on its end), with the datapath loaded on a bpffs
 * of the benchmark's own and {@code from_container}/{@code to_container} attached to the node's
 * side, the client an endpoint of it. Closing it removes the client namespace and the bpffs.
 */
final class BenchDatapath implements AutoCloseable {
  static final String NODE_SIDE = "10.255.0.1";
  static final String CLIENT = "10.255.0.2";

  final String node;
  final String client;
  final Datapath datapath;
  final int veth;
  private final Path dir;
  private final Path fs;

  BenchDatapath(String node) throws Exception {
    this.node = node;
    this.client = node + "-c";
    Namespaces.delete(client);
    Namespaces.add(client);
    dir = Files.createTempDirectory("tw-bench-bpf");
    fs = dir.resolve("fs");
    Files.createDirectories(fs);
    Command.run(List.of("mount", "-t", "bpf", "tw-bench", fs.toString()));
    Datapath d = null;
    try {
      Namespaces.batch(
          node,
          List.of(
              "link set lo up",
              "link add bench-h type veth peer name eth0 netns " + client,
              "addr add " + NODE_SIDE + "/30 dev bench-h",
              "link set bench-h up"));
      Namespaces.batch(
          client,
          List.of(
              "link set lo up",
              "addr add " + CLIENT + "/30 dev eth0",
              "link set eth0 up",
              "route add default via " + NODE_SIDE));
      d = Datapath.load(DatapathObject.build(dir.resolve("obj")), fs.resolve("node"), Map.of());
      Datapath loaded = d;
      veth =
          NetworkNamespace.call(
              NetworkNamespace.pathOf(node),
              () -> {
                int i = Libc.ifNameToIndex("bench-h");
                loaded.attach(i, true, "from_container");
                loaded.attach(i, false, "to_container");
                return i;
              });
      var e =
          new EbpfIntent.Endpoint(
              CLIENT, "bench/client", "bench-h", "02:00:00:00:00:02", 1, 256, false, false);
      d.map(DatapathMaps.ENDPOINTS)
          .put(
              DatapathMaps.endpointKey(CLIENT),
              DatapathMaps.endpointValue(e, veth, "02:00:00:00:00:01"));
      datapath = d;
      config(true);
    } catch (Exception | Error e) {
      if (d != null) {
        d.close();
      }
      cleanUp();
      throw e;
    }
  }

  /** The datapath's configuration: the service range, the node's address, flow events on/off. */
  void config(boolean flowEvents) {
    datapath
        .map(DatapathMaps.CONFIG)
        .put(
            DatapathMaps.index(0),
            DatapathMaps.config(0, "10.96.0.0/16", false, NODE_SIDE, flowEvents));
  }

  private void cleanUp() {
    Command.exec(List.of("umount", fs.toString()), "", Map.of());
    Command.exec(List.of("rm", "-rf", dir.toString()), "", Map.of());
    Namespaces.delete(client);
  }

  @Override
  public void close() {
    datapath.close();
    cleanUp();
  }
}
