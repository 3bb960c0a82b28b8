package dev.tweed.ebpf;

import dev.tweed.model.Cidr;
import dev.tweed.model.IpFamily;
import dev.tweed.sys.Libc;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The eBPF driver of one node: loads the datapath (reusing its pinned maps), converges the maps to
 * the intent by diff, and keeps the programs attached to every pod's host veth, the VXLAN device
 * and the uplink. Runs in the node's network namespace. A load the verifier refuses leaves the
 * programs attached before it (and their maps) untouched; its log is kept for status.
 */
public final class EbpfDataplane implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(EbpfDataplane.class);

  /** The MAC of every pod's host-side veth (Calico's convention, as the CNI plugin sets it). */
  private final String hostVethMac;

  private final Path object;
  private final Path pinDir;
  private final boolean bgp;

  /** The Service network of each family the cluster has. */
  private final Map<IpFamily, String> serviceCidrs = new EnumMap<>(IpFamily.class);

  private final String vxlanDevice;
  private final String uplink;
  private Datapath datapath;
  private DatapathMapWriter writer;
  private final Map<IpFamily, LbMapWriter> lbWriters = new EnumMap<>(IpFamily.class);

  /** The node's address per family: masqueraded Service traffic leaves with it as its source. */
  private final Map<IpFamily, String> nodeIps = new EnumMap<>(IpFamily.class);

  private final Set<String> attached = new HashSet<>();
  private volatile String loadError = "";

  public EbpfDataplane(
      Path object,
      Path pinDir,
      boolean bgp,
      List<String> serviceCidrs,
      String vxlanDevice,
      String uplink,
      String hostVethMac) {
    this.object = object;
    this.pinDir = pinDir;
    this.bgp = bgp;
    serviceCidrs.forEach(c -> this.serviceCidrs.put(Cidr.parse(c).family(), c));
    this.vxlanDevice = vxlanDevice;
    this.uplink = uplink;
    this.hostVethMac = hostVethMac;
  }

  /** The verifier's (or loader's) complaint from the last failed load; empty when loaded. */
  public String loadError() {
    return loadError;
  }

  public boolean loaded() {
    return datapath != null;
  }

  private Datapath datapath() {
    if (datapath == null) {
      try {
        datapath = Datapath.load(object, pinDir, Map.of());
        writer = new DatapathMapWriter(datapath);
        for (IpFamily f : IpFamily.values()) {
          lbWriters.put(f, new LbMapWriter(datapath, f));
        }
        loadError = "";
        attached.clear();
        LOG.info("event=ebpf-loaded object={} pins={}", object, pinDir);
      } catch (RuntimeException e) {
        loadError = e.getMessage();
        LOG.error("event=ebpf-load-failed error=\"{}\"", e.getMessage());
        throw e;
      }
    }
    return datapath;
  }

  /**
   * Converges maps and attachments to {@code intent}; {@code verifyAttachments} (the periodic pass)
   * compares with the maps' contents rather than with what was written last, and asks the kernel
   * whether each hook still runs Tweed's filter, repairing what changed behind its back.
   */
  public synchronized DatapathMapWriter.Result apply(EbpfIntent intent, boolean verifyAttachments) {
    return apply(intent, verifyAttachments, verifyAttachments, verifyAttachments);
  }

  /**
   * As above; {@code readEndpoints} compares the endpoint map with the kernel, {@code
   * readPolicyMaps} the IP cache and policy maps.
   */
  public synchronized DatapathMapWriter.Result apply(
      EbpfIntent intent, boolean verifyAttachments, boolean readEndpoints, boolean readPolicyMaps) {
    Datapath d = datapath();
    int vxlanIndex = writeConfig(d);

    DatapathMapWriter.Result written =
        writer.write(intent, Libc::ifNameToIndex, hostVethMac, readEndpoints, readPolicyMaps);
    Map<Integer, String> veths = written.veths();
    Set<String> hooks = new HashSet<>();
    veths.forEach(
        (ifindex, name) -> {
          attach(d, ifindex, "from_container", "to_container", verifyAttachments, hooks);
        });
    if (vxlanIndex != 0) {
      attach(d, vxlanIndex, "from_overlay", "to_overlay", verifyAttachments, hooks);
    }
    int up = Libc.ifNameToIndex(uplink);
    if (up != 0) {
      attach(d, up, "from_netdev", "to_netdev", verifyAttachments, hooks);
    }
    attached.retainAll(hooks);
    if (written.written() + written.removed() > 0) {
      LOG.info(
          "event=ebpf-maps-synced written={} removed={} endpoints={} ipcache={} policy={}",
          written.written(),
          written.removed(),
          veths.size(),
          intent.ipcache().size(),
          intent.policySize());
    }
    return written;
  }

  private int writeConfig(Datapath d) {
    int vxlanIndex = vxlanDevice.isEmpty() ? 0 : Libc.ifNameToIndex(vxlanDevice);
    d.map(DatapathMaps.CONFIG)
        .put(
            DatapathMaps.index(0),
            DatapathMaps.config(
                vxlanIndex,
                serviceCidrs.getOrDefault(IpFamily.IPV4, ""),
                bgp,
                nodeIps.getOrDefault(IpFamily.IPV4, "")));
    d.map(DatapathMaps.CONFIG6)
        .put(
            DatapathMaps.index(0),
            DatapathMaps.config6(
                serviceCidrs.getOrDefault(IpFamily.IPV6, ""),
                nodeIps.getOrDefault(IpFamily.IPV6, "")));
    return vxlanIndex;
  }

  /**
   * Converges the load-balancing maps to {@code services}: by difference with what was written
   * last, or with the maps' contents when {@code readKernel} (drift repair).
   */
  public synchronized LbMapWriter.Result applyServices(
      IpFamily family, String nodeIp, Map<String, LbService> services, boolean readKernel) {
    return writeServices(family, nodeIp, w -> w.write(services, readKernel));
  }

  /**
   * Writes only the services that changed (empty: removed); {@code all} if a full pass is needed.
   */
  public synchronized LbMapWriter.Result applyServiceChanges(
      IpFamily family,
      String nodeIp,
      Map<String, Optional<LbService>> changes,
      Map<String, LbService> all) {
    return writeServices(family, nodeIp, w -> w.writeChanges(changes, all));
  }

  private LbMapWriter.Result writeServices(
      IpFamily family, String nodeIp, Function<LbMapWriter, LbMapWriter.Result> write) {
    Datapath d = datapath();
    if (!nodeIp.equals(nodeIps.getOrDefault(family, ""))) {
      nodeIps.put(family, nodeIp);
      writeConfig(d);
    }
    LbMapWriter.Result r = write.apply(lbWriters.get(family));
    if (r.written() + r.removed() > 0) {
      LOG.info(
          "event=ebpf-services-synced family={} changed={} written={} removed={} bpf_micros={}",
          family.number(),
          r.services(),
          r.written(),
          r.removed(),
          r.kernelNanos() / 1000);
    }
    return r;
  }

  /** The ring buffer the programs report flows to. */
  public synchronized int eventsFd() {
    return datapath().eventsFd();
  }

  /** The frontends and backends the maps hold now (a previous agent's, after a restart). */
  public synchronized LbMaps.Contents servicesInMaps(IpFamily family) {
    Datapath d = datapath();
    List<LbMaps.FrontendEntry> frontends = new ArrayList<>();
    d.map(DatapathMaps.of(LbMaps.FRONTENDS, family))
        .entries()
        .forEach((k, v) -> frontends.add(LbMaps.frontend(HexFormat.of().parseHex(k), v)));
    List<LbMaps.BackendEntry> backends = new ArrayList<>();
    d.map(DatapathMaps.of(LbMaps.BACKENDS, family))
        .entries()
        .forEach((k, v) -> backends.add(LbMaps.backend(HexFormat.of().parseHex(k), v)));
    List<LbMaps.ServiceEntry> slots = new ArrayList<>();
    d.map(DatapathMaps.of(LbMaps.SERVICES, family))
        .entries()
        .forEach((k, v) -> slots.add(LbMaps.service(HexFormat.of().parseHex(k), v)));
    return new LbMaps.Contents(frontends, backends, slots);
  }

  private void attach(
      Datapath d, int ifindex, String ingress, String egress, boolean verify, Set<String> hooks) {
    attach(d, ifindex, true, ingress, verify, hooks);
    attach(d, ifindex, false, egress, verify, hooks);
  }

  private void attach(
      Datapath d, int ifindex, boolean ingress, String program, boolean verify, Set<String> hooks) {
    String key = ifindex + "/" + (ingress ? "ingress" : "egress");
    hooks.add(key);
    if (attached.contains(key)
        && (!verify
            || Libbpf.tcQuery(ifindex, ingress ? Libbpf.TC_INGRESS : Libbpf.TC_EGRESS)
                .isPresent())) {
      return;
    }
    d.attach(ifindex, ingress, program);
    attached.add(key);
  }

  /** Packets forwarded and dropped by reason, summed over CPUs. */
  public synchronized Map<String, Long> counts() {
    Map<String, Long> out = new LinkedHashMap<>();
    if (datapath == null) {
      return out;
    }
    BpfMap counts = datapath.map(DatapathMaps.COUNTS);
    for (int i = 0; i < DatapathMaps.COUNT_NAMES.size(); i++) {
      out.put(
          DatapathMaps.COUNT_NAMES.get(i),
          counts.get(DatapathMaps.index(i)).map(DatapathMaps::sumPerCpu).orElse(0L));
    }
    return out;
  }

  /**
   * Removes the conntrack entries of connections that ended or went quiet ({@link ConntrackGc});
   * empty before the datapath is loaded. The pass runs outside this driver's lock, so map writes do
   * not wait for it; the caller stops calling it before {@link #close}.
   */
  public Optional<ConntrackGc.Result> collectConntrack(ConntrackGc.Lifetimes lifetimes) {
    List<BpfMap> maps = new ArrayList<>();
    synchronized (this) {
      if (datapath == null) {
        return Optional.empty();
      }
      for (IpFamily f : IpFamily.values()) {
        maps.add(datapath.map(DatapathMaps.of(DatapathMaps.CONNTRACK, f)));
      }
    }
    ConntrackGc.Result sum = new ConntrackGc.Result(0, 0, 0);
    for (BpfMap ct : maps) {
      ConntrackGc.Result r = new ConntrackGc(ct, lifetimes).collect(System.nanoTime());
      sum =
          new ConntrackGc.Result(
              sum.scanned() + r.scanned(), sum.removed() + r.removed(), sum.micros() + r.micros());
    }
    return Optional.of(sum);
  }

  @Override
  public synchronized void close() {
    // The programs stay attached and the maps pinned: a restarting agent loses no packet.
    if (datapath != null) {
      datapath.close();
      datapath = null;
    }
  }
}
