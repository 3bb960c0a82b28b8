package dev.tweed.ebpf;

import dev.tweed.model.IpFamily;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.ToIntFunction;

/**
 * Writes an intent into a loaded datapath's maps by difference: the IP cache and policy first,
 * endpoints last (an endpoint's entry is what makes the programs enforce for it, so it appears only
 * once what it refers to is in place). Endpoints and the IP cache go to their address family's map;
 * the policy map is shared.
 */
public final class DatapathMapWriter {
  private final Map<IpFamily, MapSync> ipcache = new EnumMap<>(IpFamily.class);
  private final MapSync policy;
  private final Map<IpFamily, MapSync> endpoints = new EnumMap<>(IpFamily.class);

  /** What was written last (null: unknown, compare with the kernel). */
  private Map<String, EbpfIntent.IpcacheEntry> lastIpcache;

  private List<EbpfIntent.Endpoint> lastEndpoints;
  private Map<String, Integer> lastIfindexes;

  /** The policy entries written last, by endpoint (null: unknown, compare with the kernel). */
  private Map<Integer, List<EbpfIntent.PolicyEntry>> writtenPolicy;

  public DatapathMapWriter(Datapath d) {
    for (IpFamily f : IpFamily.values()) {
      ipcache.put(f, new MapSync(d.map(DatapathMaps.of(DatapathMaps.IPCACHE, f))));
      endpoints.put(f, new MapSync(d.map(DatapathMaps.of(DatapathMaps.ENDPOINTS, f))));
    }
    this.policy = new MapSync(d.map(DatapathMaps.POLICY));
  }

  /** What a pass wrote, and the host veths (by ifindex) of the endpoints it wrote. */
  public record Result(int written, int removed, Map<Integer, String> veths) {}

  /**
   * @param ifindexOf a host veth's index, 0 when it does not exist (its endpoint waits)
   * @param readKernel compare with the maps' contents rather than with what was written last
   */
  public Result write(
      EbpfIntent intent, ToIntFunction<String> ifindexOf, String hostVethMac, boolean readKernel) {
    return write(intent, ifindexOf, hostVethMac, readKernel, readKernel);
  }

  /**
   * As above, comparing the endpoint map with the kernel when {@code readEndpoints} and the IP
   * cache and policy maps (which grow with the cluster and the policies) when {@code
   * readPolicyMaps}.
   */
  public Result write(
      EbpfIntent intent,
      ToIntFunction<String> ifindexOf,
      String hostVethMac,
      boolean readEndpoints,
      boolean readPolicyMaps) {
    Map<IpFamily, Map<String, byte[][]>> wantEndpoints = byFamily();
    Map<Integer, String> veths = new LinkedHashMap<>();
    Map<String, Integer> ifindexes = new HashMap<>();
    for (EbpfIntent.Endpoint e : intent.endpoints()) {
      int ifindex = ifindexOf.applyAsInt(e.hostInterface());
      if (ifindex == 0) {
        continue;
      }
      veths.put(ifindex, e.hostInterface());
      ifindexes.put(e.hostInterface(), ifindex);
    }
    MapSync.Changes c =
        syncIpcache(intent, readPolicyMaps).plus(syncPolicy(intent, readPolicyMaps));
    if (readEndpoints
        || !intent.endpoints().equals(lastEndpoints)
        || !ifindexes.equals(lastIfindexes)) {
      lastEndpoints = null;
      for (EbpfIntent.Endpoint e : intent.endpoints()) {
        Integer ifindex = ifindexes.get(e.hostInterface());
        if (ifindex != null) {
          MapSync.put(
              wantEndpoints.get(IpFamily.of(e.ip())),
              DatapathMaps.endpointKey(e.ip()),
              DatapathMaps.endpointValue(e, ifindex, hostVethMac));
        }
      }
      for (IpFamily f : IpFamily.values()) {
        c = c.plus(endpoints.get(f).sync(wantEndpoints.get(f), readEndpoints));
      }
      lastEndpoints = intent.endpoints();
      lastIfindexes = ifindexes;
    }
    return new Result(c.written(), c.removed(), veths);
  }

  /** The IP cache: by difference with what was written last, or with the kernel when asked. */
  private MapSync.Changes syncIpcache(EbpfIntent intent, boolean readKernel) {
    Map<String, EbpfIntent.IpcacheEntry> now = new HashMap<>();
    intent.ipcache().forEach(e -> now.put(e.cidr(), e));
    if (readKernel || lastIpcache == null) {
      lastIpcache = null;
      Map<IpFamily, Map<String, byte[][]>> want = byFamily();
      for (EbpfIntent.IpcacheEntry e : intent.ipcache()) {
        MapSync.put(
            want.get(family(e.cidr())),
            DatapathMaps.ipcacheKey(e.cidr()),
            DatapathMaps.ipcacheValue(e));
      }
      MapSync.Changes c = new MapSync.Changes(0, 0);
      for (IpFamily f : IpFamily.values()) {
        c = c.plus(ipcache.get(f).sync(want.get(f), true));
      }
      lastIpcache = now;
      return c;
    }
    Map<String, EbpfIntent.IpcacheEntry> before = lastIpcache;
    lastIpcache = null; // unknown until this pass completes
    int written = 0;
    int removed = 0;
    for (EbpfIntent.IpcacheEntry e : intent.ipcache()) {
      if (!e.equals(before.get(e.cidr()))) {
        ipcache
            .get(family(e.cidr()))
            .map()
            .put(DatapathMaps.ipcacheKey(e.cidr()), DatapathMaps.ipcacheValue(e));
        written++;
      }
    }
    for (String cidr : before.keySet()) {
      if (!now.containsKey(cidr)) {
        ipcache.get(family(cidr)).map().remove(DatapathMaps.ipcacheKey(cidr));
        removed++;
      }
    }
    ipcache.values().forEach(MapSync::forget);
    lastIpcache = now;
    return new MapSync.Changes(written, removed);
  }

  private static Map<IpFamily, Map<String, byte[][]>> byFamily() {
    Map<IpFamily, Map<String, byte[][]>> out = new EnumMap<>(IpFamily.class);
    for (IpFamily f : IpFamily.values()) {
      out.put(f, new TreeMap<>());
    }
    return out;
  }

  private static IpFamily family(String cidr) {
    return IpFamily.of(cidr.substring(0, cidr.indexOf('/')));
  }

  /**
   * The policy map: compared with the kernel as a whole when asked; otherwise endpoint by endpoint
   * with what was written last, so an endpoint whose entries are the same list as before costs
   * nothing (a relabel touches only the endpoints whose peers it changed).
   */
  private MapSync.Changes syncPolicy(EbpfIntent intent, boolean readKernel) {
    if (readKernel || writtenPolicy == null) {
      Map<String, byte[][]> want = new HashMap<>();
      for (EbpfIntent.PolicyEntry p : intent.policy()) {
        MapSync.put(want, DatapathMaps.policyKey(p), DatapathMaps.POLICY_ALLOW);
      }
      writtenPolicy = null;
      MapSync.Changes c = policy.sync(want, true);
      writtenPolicy = new HashMap<>(intent.policyByEndpoint());
      return c;
    }
    Map<Integer, List<EbpfIntent.PolicyEntry>> before = writtenPolicy;
    writtenPolicy = null; // unknown until this pass completes
    int written = 0;
    int removed = 0;
    Set<Integer> ids = new TreeSet<>(before.keySet());
    ids.addAll(intent.policyByEndpoint().keySet());
    for (int id : ids) {
      var old = before.getOrDefault(id, List.of());
      var now = intent.policyByEndpoint().getOrDefault(id, List.of());
      if (old == now || old.equals(now)) {
        continue;
      }
      Set<EbpfIntent.PolicyEntry> keep = new HashSet<>(now);
      Set<EbpfIntent.PolicyEntry> had = new HashSet<>(old);
      for (EbpfIntent.PolicyEntry p : now) {
        if (!had.contains(p)) {
          policy.map().put(DatapathMaps.policyKey(p), DatapathMaps.POLICY_ALLOW);
          written++;
        }
      }
      for (EbpfIntent.PolicyEntry p : old) {
        if (!keep.contains(p)) {
          policy.map().remove(DatapathMaps.policyKey(p));
          removed++;
        }
      }
    }
    writtenPolicy = new HashMap<>(intent.policyByEndpoint());
    policy.forget();
    return new MapSync.Changes(written, removed);
  }
}
