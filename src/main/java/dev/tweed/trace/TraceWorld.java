package dev.tweed.trace;

import dev.tweed.kernel.Link;
import dev.tweed.kernel.NetnsState;
import dev.tweed.kernel.netfilter.IpsetTable;
import dev.tweed.kernel.netfilter.IptablesSaveParser;
import dev.tweed.kernel.netfilter.XtTable;
import dev.tweed.kernel.nftables.NftRuleset;
import dev.tweed.model.IpFamily;
import dev.tweed.trace.bpf.BpfState;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * The namespaces a trace can walk through, with what the model derives from each once (parsed rule
 * sets and sets), and how their veths pair up.
 *
 * <p>Labels say what a person calls a namespace ("x/a" for a pod, "node-1").
 */
public final class TraceWorld {
  /** The table {@code --verify} adds to mark the traced packet; never part of the path. */
  public static final String TRACE_TABLE = "tweed-trace";

  private final Map<String, NetnsState> namespaces;
  private final Map<String, String> labels;
  private final Map<String, Object> cache = new ConcurrentHashMap<>();

  public TraceWorld(Map<String, NetnsState> namespaces, Map<String, String> labels) {
    this.namespaces = Map.copyOf(namespaces);
    this.labels = Map.copyOf(labels);
  }

  public Map<String, NetnsState> namespaces() {
    return namespaces;
  }

  public Map<String, String> labels() {
    return labels;
  }

  public Optional<NetnsState> netns(String name) {
    return Optional.ofNullable(namespaces.get(name));
  }

  /** A namespace the trace walks through; an unknown name is a caller's mistake. */
  public NetnsState state(String name) {
    return netns(name)
        .orElseThrow(() -> new IllegalArgumentException("no captured namespace " + name));
  }

  public String label(String netns) {
    return labels.getOrDefault(netns, netns);
  }

  @SuppressWarnings("unchecked")
  private <T> T cached(String key, Supplier<T> make) {
    Object v = cache.get(key);
    if (v == null) {
      v = make.get();
      cache.put(key, v);
    }
    return (T) v;
  }

  /** The iptables (IPv4) or ip6tables (IPv6) tables of {@code netns}. */
  public Map<String, XtTable> iptables(String netns, IpFamily family) {
    return cached(
        "ipt" + family.number() + ":" + netns,
        () -> IptablesSaveParser.parse(namespaces.get(netns).iptablesSave(family)));
  }

  public IpsetTable ipsets(String netns) {
    return cached("ipset:" + netns, () -> IpsetTable.parse(namespaces.get(netns).ipsetSave()));
  }

  public NftRuleset nftables(String netns) {
    return cached("nftrs:" + netns, () -> NftRuleset.parse(namespaces.get(netns).nftRuleset()));
  }

  /** Tweed's tc programs and maps in {@code netns} ({@link BpfState#NONE} where it has none). */
  public BpfState bpf(String netns) {
    return cached(
        "bpf:" + netns,
        () -> {
          NetnsState s = namespaces.get(netns);
          return s == null ? BpfState.NONE : BpfState.parse(s.tcPrograms(), s.bpfMaps());
        });
  }

  /** The UDP ports VXLAN devices of the world listen on. */
  public Set<Integer> vxlanPorts() {
    Set<Integer> ports = new TreeSet<>();
    for (NetnsState s : namespaces.values()) {
      for (Link l : s.links()) {
        l.vxlan().ifPresent(v -> ports.add(v.port()));
      }
    }
    return ports;
  }

  /** The other end of a veth: its namespace and interface. */
  public Optional<Endpoint> peer(String netns, Link link) {
    if (!link.isVeth() || link.peerIfindex().isEmpty()) {
      return Optional.empty();
    }
    int peerIndex = link.peerIfindex().get();
    if (link.peerNetnsId().isEmpty()) {
      return namespaces.get(netns).link(peerIndex).map(l -> new Endpoint(netns, l));
    }
    String named = namespaces.get(netns).netnsIds().get(link.peerNetnsId().get());
    if (named != null) {
      return Optional.ofNullable(namespaces.get(named))
          .flatMap(s -> s.link(peerIndex))
          .map(l -> new Endpoint(named, l));
    }
    // A capture without namespace names: pair veths whose indexes point at each other.
    for (var e : namespaces.entrySet()) {
      if (e.getKey().equals(netns)) {
        continue;
      }
      for (Link l : e.getValue().links()) {
        if (l.isVeth()
            && l.ifindex() == peerIndex
            && l.peerIfindex().map(p -> p == link.ifindex()).orElse(false)
            && l.peerNetnsId().isPresent()) {
          return Optional.of(new Endpoint(e.getKey(), l));
        }
      }
    }
    return Optional.empty();
  }

  /** An interface in a namespace. */
  public record Endpoint(String netns, Link link) {}
}
