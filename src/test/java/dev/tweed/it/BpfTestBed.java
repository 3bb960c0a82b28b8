package dev.tweed.it;

import dev.tweed.ebpf.Datapath;
import dev.tweed.ebpf.DatapathMaps;
import dev.tweed.ebpf.DatapathObject;
import dev.tweed.ebpf.EbpfIntent;
import dev.tweed.model.Cidr;
import dev.tweed.model.IpFamily;
import dev.tweed.sys.Command;
import dev.tweed.sys.Libc;
import dev.tweed.sys.NetworkNamespace;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * Where the datapath's programs are run by BPF_PROG_TEST_RUN: a scratch namespace for the devices
 * they see, a bpffs of the test's own for their pins (unmounted at the end), and the compiled
 * object; with the helpers that fill the maps as the agent would.
 */
final class BpfTestBed implements AutoCloseable {
  private final ScratchNetwork net;
  private final String ns;
  private final Path bpffs;
  private final Path object;

  BpfTestBed(String prefix) throws Exception {
    net = new ScratchNetwork(prefix);
    Path fs = null;
    try {
      ns = net.add("run");
      fs = Files.createTempDirectory("tw-bpffs");
      Command.run(List.of("mount", "-t", "bpf", "bpf", fs.toString()));
      bpffs = fs;
      object = DatapathObject.build(Files.createTempDirectory("tw-bpfobj"));
    } catch (Exception | Error e) {
      if (fs != null) {
        Command.exec(List.of("umount", fs.toString()), "", Map.of());
      }
      net.close();
      throw e;
    }
  }

  String namespace() {
    return ns;
  }

  void ip(String... args) {
    ScratchNetwork.ip(ns, args);
  }

  /** A veth pair {@code name} / {@code name-peer} in the namespace; the index of {@code name}. */
  int veth(String name) throws Exception {
    ip("link", "add", name, "type", "veth", "peer", "name", name + "-peer");
    return call(() -> Libc.ifNameToIndex(name));
  }

  <T> T call(Callable<T> work) throws Exception {
    return NetworkNamespace.call(NetworkNamespace.pathOf(ns), work);
  }

  /** A fresh load with its own pins, so tests do not share maps. */
  Datapath load(String pins, Map<String, Integer> sizes) {
    return Datapath.load(object, bpffs.resolve(pins), sizes);
  }

  Path object() {
    return object;
  }

  Path bpffs() {
    return bpffs;
  }

  static void endpoint(
      Datapath d,
      String ip,
      int ifindex,
      int id,
      int identity,
      boolean in,
      boolean out,
      String mac) {
    var e = new EbpfIntent.Endpoint(ip, "pod", "veth", mac, id, identity, in, out);
    // In its family's map, as the agent writes it.
    d.map(DatapathMaps.of(DatapathMaps.ENDPOINTS, IpFamily.of(ip)))
        .put(
            DatapathMaps.endpointKey(ip),
            DatapathMaps.endpointValue(e, ifindex, "ee:ee:ee:ee:ee:ee"));
  }

  static void ipcache(Datapath d, String cidr, int identity, String tunnel) {
    var e = new EbpfIntent.IpcacheEntry(cidr, identity, tunnel);
    d.map(DatapathMaps.of(DatapathMaps.IPCACHE, Cidr.parse(cidr).family()))
        .put(DatapathMaps.ipcacheKey(cidr), DatapathMaps.ipcacheValue(e));
  }

  static void policy(Datapath d, EbpfIntent.PolicyEntry p) {
    d.map(DatapathMaps.POLICY).put(DatapathMaps.policyKey(p), DatapathMaps.POLICY_ALLOW);
  }

  /** A drop reason's (or forwarded) packet count, summed over CPUs. */
  static long count(Datapath d, String name) {
    int i = DatapathMaps.COUNT_NAMES.indexOf(name);
    return d.map(DatapathMaps.COUNTS)
        .get(DatapathMaps.index(i))
        .map(DatapathMaps::sumPerCpu)
        .orElse(0L);
  }

  @Override
  public void close() {
    Command.exec(List.of("umount", bpffs.toString()), "", Map.of());
    bpffs.toFile().delete();
    net.close();
  }
}
