package dev.tweed.kernel;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.model.IpFamily;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Everything the packet path of one network namespace depends on, taken at one moment.
 *
 * @param iptablesSave {@code iptables-save} output, parsed by the netfilter model
 * @param ip6tablesSave {@code ip6tables-save} output: the tables IPv6 packets traverse
 * @param ipsetSave {@code ipset save} output
 * @param nftRuleset {@code nft -j list ruleset} output
 * @param sysctls net.* sysctls by their dotted name
 * @param recentLists the {@code xt_recent} lists: name → source addresses in it
 * @param netnsIds the names of the namespaces this one numbers (veth peers' {@code link_netnsid})
 * @param tcPrograms {@code bpftool -j net show}: the BPF programs attached to its devices
 * @param bpfMaps Tweed's datapath maps, as {@code bpftool -j map dump} prints each, by map name
 *     (under {@code maps}), with the moment of the dump on the kernel's monotonic clock ({@code
 *     monotonicNanos}); empty where the namespace runs no eBPF datapath
 */
public record NetnsState(
    String name,
    List<Link> links,
    List<RouteEntry> routes,
    List<RoutingRule> rules,
    List<NeighbourEntry> neighbours,
    List<BridgeFdbEntry> fdb,
    String iptablesSave,
    String ip6tablesSave,
    String ipsetSave,
    JsonNode nftRuleset,
    Map<String, String> sysctls,
    List<Listener> listeners,
    Map<String, List<String>> recentLists,
    Map<Integer, String> netnsIds,
    JsonNode tcPrograms,
    JsonNode bpfMaps) {

  public Optional<Link> link(String name) {
    return links.stream().filter(l -> l.name().equals(name)).findFirst();
  }

  public Optional<Link> link(int ifindex) {
    return links.stream().filter(l -> l.ifindex() == ifindex).findFirst();
  }

  /** The interface holding an address, if one does. */
  public Optional<Link> owner(String address) {
    return links.stream()
        .filter(l -> l.addresses().stream().anyMatch(a -> a.address().equals(address)))
        .findFirst();
  }

  /**
   * A per-interface sysctl as the kernel applies it: {@code net.ipv4.conf.IFACE.KEY}, falling back
   * to {@code default} where the interface's is not captured.
   */
  public Optional<Integer> conf(String iface, String key) {
    String v = sysctls.get("net.ipv4.conf." + iface.replace('.', '/') + "." + key);
    if (v == null) {
      v = sysctls.get("net.ipv4.conf.default." + key);
    }
    return Optional.ofNullable(v).map(s -> Integer.parseInt(s.strip()));
  }

  /** {@code net.ipv4.conf.all.KEY}. */
  public Optional<Integer> confAll(String key) {
    return Optional.ofNullable(sysctls.get("net.ipv4.conf.all." + key))
        .map(s -> Integer.parseInt(s.strip()));
  }

  /**
   * Whether the namespace forwards packets of {@code family} (ip_forward, or IPv6's forwarding).
   */
  public boolean forwarding(IpFamily family) {
    String key = family == IpFamily.IPV4 ? "net.ipv4.ip_forward" : "net.ipv6.conf.all.forwarding";
    return Optional.ofNullable(sysctls.get(key)).map(s -> s.strip().equals("1")).orElse(false);
  }

  /** The iptables rules of {@code family}: iptables-save's or ip6tables-save's. */
  public String iptablesSave(IpFamily family) {
    return family == IpFamily.IPV4 ? iptablesSave : ip6tablesSave;
  }
}
