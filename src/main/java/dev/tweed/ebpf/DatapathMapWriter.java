package dev.tweed.ebpf;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.ToIntFunction;

/**
 * Writes an intent into a loaded datapath's maps by difference: the IP cache and policy first,
 * endpoints last (an endpoint's entry is what makes the programs enforce for it, so it appears only
 * once what it refers to is in place).
 */
public final class DatapathMapWriter {
  private final MapSync ipcache;
  private final MapSync policy;
  private final MapSync endpoints;

  public DatapathMapWriter(Datapath d) {
    this.ipcache = new MapSync(d.map(DatapathMaps.IPCACHE));
    this.policy = new MapSync(d.map(DatapathMaps.POLICY));
    this.endpoints = new MapSync(d.map(DatapathMaps.ENDPOINTS));
  }

  /** What a pass wrote, and the host veths (by ifindex) of the endpoints it wrote. */
  public record Result(int written, int removed, Map<Integer, String> veths) {}

  /**
   * @param ifindexOf a host veth's index, 0 when it does not exist (its endpoint waits)
   * @param readKernel compare with the maps' contents rather than with what was written last
   */
  public Result write(
      EbpfIntent intent, ToIntFunction<String> ifindexOf, String hostVethMac, boolean readKernel) {
    Map<String, byte[][]> wantEndpoints = new TreeMap<>();
    Map<Integer, String> veths = new LinkedHashMap<>();
    for (EbpfIntent.Endpoint e : intent.endpoints()) {
      int ifindex = ifindexOf.applyAsInt(e.hostInterface());
      if (ifindex == 0) {
        continue;
      }
      veths.put(ifindex, e.hostInterface());
      MapSync.put(
          wantEndpoints,
          DatapathMaps.endpointKey(e.ip()),
          DatapathMaps.endpointValue(e, ifindex, hostVethMac));
    }
    Map<String, byte[][]> wantIpcache = new TreeMap<>();
    for (EbpfIntent.IpcacheEntry e : intent.ipcache()) {
      MapSync.put(wantIpcache, DatapathMaps.ipcacheKey(e.cidr()), DatapathMaps.ipcacheValue(e));
    }
    Map<String, byte[][]> wantPolicy = new java.util.HashMap<>();
    for (EbpfIntent.PolicyEntry p : intent.policy()) {
      MapSync.put(wantPolicy, DatapathMaps.policyKey(p), DatapathMaps.POLICY_ALLOW);
    }
    MapSync.Changes c =
        ipcache
            .sync(wantIpcache, readKernel)
            .plus(policy.sync(wantPolicy, readKernel))
            .plus(endpoints.sync(wantEndpoints, readKernel));
    return new Result(c.written(), c.removed(), veths);
  }
}
