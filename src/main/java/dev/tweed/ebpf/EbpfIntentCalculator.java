package dev.tweed.ebpf;

import dev.tweed.ebpf.EbpfIntent.Direction;
import dev.tweed.ebpf.EbpfIntent.Endpoint;
import dev.tweed.ebpf.EbpfIntent.IpcacheEntry;
import dev.tweed.ebpf.EbpfIntent.PolicyEntry;
import dev.tweed.model.Cidr;
import dev.tweed.model.IpAddress;
import dev.tweed.model.IpFamily;
import dev.tweed.model.IpamBlock;
import dev.tweed.model.NodeResource;
import dev.tweed.policy.PolicyIntent;
import dev.tweed.policy.PolicyIntent.Match;
import dev.tweed.policy.PolicyPod;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.zip.CRC32;

/**
 * Turns a node's policy intent and the cluster's pods, nodes and blocks into the datapath's map
 * contents (pure). Peers become identities: a pod selector the identities of the pods it selects,
 * an ipBlock the identities of every IP cache entry inside it and outside its exceptions (the IP
 * cache resolves an address to its longest prefix, so that is exactly the block's addresses); ports
 * become prefixes of the port, so an endPort range is a handful of entries.
 */
public final class EbpfIntentCalculator {
  private final String nodeName;

  public EbpfIntentCalculator(String nodeName) {
    this.nodeName = nodeName;
  }

  /** The cluster as the datapath needs it; identities maps label sets to allocated numbers. */
  public record Inputs(
      List<NodeResource> nodes,
      List<IpamBlock> blocks,
      List<PolicyPod> pods,
      Map<String, Map<String, String>> namespaceLabels,
      Map<String, String> localMacs,
      Map<List<String>, Integer> identities,
      PolicyIntent policy) {}

  public synchronized EbpfIntent calculate(Inputs in) {
    // The tunnel's far end: the underlay is IPv4, whatever the pods' families.
    Map<String, String> nodeIps = new HashMap<>();
    in.nodes()
        .forEach(
            n ->
                n.internalIps().stream()
                    .filter(ip -> IpFamily.of(ip) == IpFamily.IPV4)
                    .findFirst()
                    .ifPresent(ip -> nodeIps.put(n.name(), ip)));
    TreeMap<Integer, List<String>> identities = new TreeMap<>(Identities.RESERVED);

    Map<String, IpcacheEntry> ipcache = new TreeMap<>();
    for (IpFamily f : IpFamily.values()) {
      String any = Cidr.any(f).toString();
      ipcache.put(any, new IpcacheEntry(any, Identities.WORLD, ""));
    }
    for (IpamBlock b : in.blocks()) {
      String node = nodeIps.get(b.node());
      if (!b.node().equals(nodeName) && node != null) {
        // A pod whose identity this node has not learnt yet still reaches its node.
        String c = b.cidr().toString();
        ipcache.put(c, new IpcacheEntry(c, Identities.WORLD, node));
      }
    }
    for (NodeResource n : in.nodes()) {
      int id = n.name().equals(nodeName) ? Identities.HOST : Identities.REMOTE_NODE;
      for (String ip : n.internalIps()) {
        String c = host(ip);
        ipcache.put(c, new IpcacheEntry(c, id, ""));
      }
    }
    Map<String, Integer> podIdentity = new HashMap<>();
    Map<String, Integer> ipIdentity = new HashMap<>();
    for (PolicyPod p : in.pods()) {
      List<String> labels = labelsOf(p, in.namespaceLabels());
      Integer id = in.identities().get(labels);
      if (id == null || p.ips().isEmpty()) {
        continue;
      }
      identities.put(id, labels);
      podIdentity.put(p.qualifiedName(), id);
      String tunnel =
          p.node()
              .filter(n -> !n.equals(nodeName))
              .map(n -> nodeIps.getOrDefault(n, ""))
              .orElse("");
      // Both of a dual-stack pod's addresses carry its one identity.
      for (String ip : p.ips()) {
        ipIdentity.put(ip, id);
        String c = host(ip);
        ipcache.put(c, new IpcacheEntry(c, id, tunnel));
      }
    }
    addBlockCidrs(in.policy(), ipcache, identities);

    Map<String, PolicyIntent.CompiledPolicy> policies = new HashMap<>();
    in.policy().policies().forEach(p -> policies.put(p.qualifiedName(), p));
    Map<String, PolicyIntent.AddressSet> sets = new HashMap<>();
    in.policy().sets().forEach(s -> sets.put(s.name(), s));
    Map<String, Integer> endpointIds = endpointIds(in.policy().endpoints());

    Set<String> changedIps = changedIdentities(ipIdentity);
    Set<PolicyIntent.AddressSet> touched = touchedSets(in.policy().sets(), changedIps);
    boolean ipcacheChanged = !ipcache.equals(lastIpcache);
    lastIpcache = ipcache; // not changed after this point

    List<Endpoint> endpoints = new ArrayList<>();
    TreeMap<Integer, List<PolicyEntry>> entries = new TreeMap<>();
    Map<String, Cached> nextCache = new HashMap<>();
    for (PolicyIntent.Endpoint e : in.policy().endpoints()) {
      Integer identity = podIdentity.get(e.pod());
      String mac = in.localMacs().get(e.ip());
      if (identity == null || mac == null) {
        continue;
      }
      int id = endpointIds.get(e.pod());
      // An entry per address, in its family's map: one endpoint id, one identity.
      for (String ip : e.ips()) {
        endpoints.add(
            new Endpoint(
                ip,
                e.pod(),
                e.hostInterface(),
                mac,
                id,
                identity,
                e.ingressPolicies().isPresent(),
                e.egressPolicies().isPresent()));
      }
      List<PolicyIntent.CompiledPolicy> in0 =
          e.ingressPolicies().orElse(List.of()).stream().map(policies::get).toList();
      List<PolicyIntent.CompiledPolicy> out0 =
          e.egressPolicies().orElse(List.of()).stream().map(policies::get).toList();
      List<PolicyIntent.AddressSet> used = new ArrayList<>();
      boolean blocks = referencedSets(in0, sets, used) | referencedSets(out0, sets, used);
      Cached c = cache.get(e.pod());
      if (c == null
          || !c.endpoint().equals(e)
          || c.id() != id
          || !sameRefs(c.ingress(), in0)
          || !sameRefs(c.egress(), out0)
          || !sameRefs(c.sets(), used)
          || (blocks && ipcacheChanged)
          || used.stream().anyMatch(touched::contains)) {
        Set<PolicyEntry> out = new TreeSet<>();
        Compiler comp = new Compiler(e, id, ipcache.values(), ipIdentity, sets, out);
        in0.forEach(p -> comp.add(p.ingress(), Direction.INGRESS));
        out0.forEach(p -> comp.add(p.egress(), Direction.EGRESS));
        c = new Cached(e, id, in0, out0, List.copyOf(used), List.copyOf(out));
      }
      nextCache.put(e.pod(), c);
      if (!c.entries().isEmpty()) {
        entries.put(id, c.entries());
      }
    }
    cache = nextCache;
    return new EbpfIntent(endpoints, List.copyOf(ipcache.values()), entries, identities);
  }

  /**
   * What an endpoint's entries were computed from: its policies and the sets they name (the very
   * objects, which the incremental policy calculator keeps while they are unchanged).
   */
  private record Cached(
      PolicyIntent.Endpoint endpoint,
      int id,
      List<PolicyIntent.CompiledPolicy> ingress,
      List<PolicyIntent.CompiledPolicy> egress,
      List<PolicyIntent.AddressSet> sets,
      List<PolicyEntry> entries) {}

  private Map<String, Cached> cache = new HashMap<>();

  /** Each pod's identity labels, by the pod object (unchanged pods are the same objects). */
  private Map<PolicyPod, List<String>> labelCache = new IdentityHashMap<>();

  private Map<String, Map<String, String>> labelCacheNamespaces = Map.of();

  /**
   * A pod's identity labels (its own and its namespace's), remembered while the pod object and the
   * namespaces' labels stay the same.
   */
  public synchronized List<String> labelsOf(
      PolicyPod p, Map<String, Map<String, String>> namespaceLabels) {
    if (namespaceLabels != labelCacheNamespaces && !namespaceLabels.equals(labelCacheNamespaces)) {
      labelCache = new IdentityHashMap<>();
      labelCacheNamespaces = namespaceLabels;
    }
    if (labelCache.size() > 4 * Math.max(1024, cache.size())) {
      labelCache = new IdentityHashMap<>(); // pods come and go: forget the old ones
    }
    return labelCache.computeIfAbsent(
        p,
        x ->
            Identities.labels(
                x.namespace(), x.labels(), namespaceLabels.getOrDefault(x.namespace(), Map.of())));
  }

  private Map<String, Integer> lastIpIdentity = Map.of();
  private Map<String, IpcacheEntry> lastIpcache = Map.of();

  /** Addresses whose identity is new, gone or different since the last calculation. */
  private Set<String> changedIdentities(Map<String, Integer> ipIdentity) {
    Set<String> out = new HashSet<>();
    ipIdentity.forEach(
        (ip, id) -> {
          if (!id.equals(lastIpIdentity.get(ip))) {
            out.add(ip);
          }
        });
    lastIpIdentity.keySet().stream().filter(ip -> !ipIdentity.containsKey(ip)).forEach(out::add);
    lastIpIdentity = ipIdentity; // not changed after this point
    return out;
  }

  /** Collects the sets the policies' matches name; true when some match is an ipBlock. */
  private static boolean referencedSets(
      List<PolicyIntent.CompiledPolicy> policies,
      Map<String, PolicyIntent.AddressSet> sets,
      List<PolicyIntent.AddressSet> into) {
    boolean blocks = false;
    for (PolicyIntent.CompiledPolicy p : policies) {
      for (Match m : concat(p.ingress(), p.egress())) {
        if (m.peer() instanceof PolicyIntent.PeerSet ps) {
          into.add(sets.get(ps.set()));
        } else if (m.peer() instanceof PolicyIntent.Block) {
          blocks = true;
        }
        if (m.port() instanceof PolicyIntent.NamedPortSet n) {
          into.add(sets.get(n.set()));
        }
      }
    }
    return blocks;
  }

  private static boolean sameRefs(List<?> a, List<?> b) {
    if (a.size() != b.size()) {
      return false;
    }
    for (int i = 0; i < a.size(); i++) {
      if (a.get(i) != b.get(i) && !a.get(i).equals(b.get(i))) {
        return false;
      }
    }
    return true;
  }

  /** The sets (by reference) that have a member whose identity changed. */
  private static Set<PolicyIntent.AddressSet> touchedSets(
      List<PolicyIntent.AddressSet> sets, Set<String> changedIps) {
    Set<PolicyIntent.AddressSet> out = Collections.newSetFromMap(new IdentityHashMap<>());
    if (changedIps.isEmpty()) {
      return out;
    }
    for (PolicyIntent.AddressSet s : sets) {
      for (String ip : changedIps) {
        if (s.kind() == PolicyIntent.AddressSet.Kind.ADDRESSES
            ? s.members().contains(ip)
            : !s.members().subSet(ip + ",", ip + ",\uffff").isEmpty()) {
          out.add(s);
          break;
        }
      }
    }
    return out;
  }

  /** Every ipBlock's CIDR and exceptions get an entry (a node-local identity) if they lack one. */
  private static void addBlockCidrs(
      PolicyIntent policy, Map<String, IpcacheEntry> ipcache, TreeMap<Integer, List<String>> ids) {
    TreeSet<String> cidrs = new TreeSet<>();
    for (PolicyIntent.CompiledPolicy p : policy.policies()) {
      for (Match m : concat(p.ingress(), p.egress())) {
        if (m.peer() instanceof PolicyIntent.Block b) {
          cidrs.add(Cidr.parse(b.cidr()).toString());
          b.except().forEach(x -> cidrs.add(Cidr.parse(x).toString()));
        }
      }
    }
    Set<Integer> taken = new HashSet<>();
    for (String c : cidrs) {
      if (ipcache.containsKey(c)) {
        continue;
      }
      int id = Identities.FIRST_LOCAL + (int) (crc(c) & 0xffffff);
      while (!taken.add(id)) {
        id = Identities.FIRST_LOCAL + ((id + 1) & 0xffffff);
      }
      ids.put(id, Identities.cidrLabels(c));
      ipcache.put(c, new IpcacheEntry(c, id, ""));
    }
  }

  /** An address's host prefix: /32 or /128. */
  private static String host(String ip) {
    return Cidr.host(IpAddress.parse(ip)).toString();
  }

  /**
   * Endpoint ids that stay the same while the pod lives (a hash of its name), distinct on the node.
   */
  private static Map<String, Integer> endpointIds(List<PolicyIntent.Endpoint> endpoints) {
    Map<String, Integer> out = new HashMap<>();
    Set<Integer> taken = new HashSet<>();
    endpoints.stream()
        .map(PolicyIntent.Endpoint::pod)
        .sorted()
        .forEach(
            pod -> {
              int id = (int) (crc(pod) & 0xfffe) + 1;
              while (!taken.add(id)) {
                id = (id % 0xffff) + 1;
              }
              out.put(pod, id);
            });
    return out;
  }

  private static long crc(String s) {
    CRC32 c = new CRC32();
    c.update(s.getBytes(StandardCharsets.UTF_8));
    return c.getValue();
  }

  private static List<Match> concat(List<Match> a, List<Match> b) {
    List<Match> out = new ArrayList<>(a);
    out.addAll(b);
    return out;
  }

  static int protocol(String name) {
    return switch (name) {
      case "TCP" -> 6;
      case "UDP" -> 17;
      case "SCTP" -> 132;
      default -> throw new IllegalArgumentException("unknown protocol " + name);
    };
  }

  /** A port range as (first port, prefix length) pairs of aligned power-of-two blocks. */
  static List<int[]> portPrefixes(int from, int to) {
    List<int[]> out = new ArrayList<>();
    long p = from;
    while (p <= to) {
      int bits = 0;
      while (bits < 16 && (p & ((1L << (bits + 1)) - 1)) == 0 && p + (1L << (bits + 1)) - 1 <= to) {
        bits++;
      }
      out.add(new int[] {(int) p, 16 - bits});
      p += 1L << bits;
    }
    return out;
  }

  /** Compiles one endpoint's matches into entries. */
  private record Compiler(
      PolicyIntent.Endpoint endpoint,
      int id,
      Collection<IpcacheEntry> ipcache,
      Map<String, Integer> ipIdentity,
      Map<String, PolicyIntent.AddressSet> sets,
      Set<PolicyEntry> out) {

    void add(List<Match> matches, Direction dir) {
      for (Match m : matches) {
        if (m.port() instanceof PolicyIntent.NamedPortSet named) {
          addNamed(m.peer(), sets.get(named.set()), dir);
          continue;
        }
        for (int peer : peers(m.peer())) {
          switch (m.port()) {
            case PolicyIntent.AnyPort a -> emit(dir, peer, 0, 0, 0);
            case PolicyIntent.Protocol p -> emit(dir, peer, protocol(p.protocol()), 0, 0);
            case PolicyIntent.PortRange r -> {
              for (int[] pp : portPrefixes(r.from(), r.to())) {
                emit(dir, peer, protocol(r.protocol()), pp[0], pp[1]);
              }
            }
            case PolicyIntent.NamedPortSet n -> throw new IllegalStateException();
          }
        }
      }
    }

    /**
     * A named port: for ingress the number this pod gives the name; for egress each destination
     * pod's number, for that pod's identity (pods sharing an identity and a port name but not its
     * number are allowed every such number).
     */
    private void addNamed(PolicyIntent.PeerMatch peer, PolicyIntent.AddressSet set, Direction dir) {
      for (String member : set.members()) {
        String ip = member.substring(0, member.indexOf(','));
        String[] protoPort = member.substring(member.indexOf(',') + 1).split(":");
        int proto = protocol(protoPort[0].toUpperCase(Locale.ROOT));
        int port = Integer.parseInt(protoPort[1]);
        if (dir == Direction.INGRESS) {
          if (endpoint.ips().contains(ip)) {
            peers(peer).forEach(p -> emit(dir, p, proto, port, 16));
          }
        } else if (admits(peer, ip) && ipIdentity.containsKey(ip)) {
          emit(dir, ipIdentity.get(ip), proto, port, 16);
        }
      }
    }

    private boolean admits(PolicyIntent.PeerMatch peer, String ip) {
      return switch (peer) {
        case PolicyIntent.AnyPeer a -> true;
        case PolicyIntent.PeerSet s -> sets.get(s.set()).members().contains(ip);
        case PolicyIntent.Block b -> inBlock(Cidr.parse(ip + "/32"), b);
      };
    }

    private Set<Integer> peers(PolicyIntent.PeerMatch peer) {
      Set<Integer> ids = new TreeSet<>();
      switch (peer) {
        case PolicyIntent.AnyPeer a -> ids.add(0);
        case PolicyIntent.PeerSet s ->
            sets.get(s.set()).members().stream()
                .map(ipIdentity::get)
                .filter(Objects::nonNull)
                .forEach(ids::add);
        case PolicyIntent.Block b -> {
          for (IpcacheEntry e : ipcache) {
            if (inBlock(Cidr.parse(e.cidr()), b)) {
              ids.add(e.identity());
            }
          }
        }
      }
      return ids;
    }

    private static boolean inBlock(Cidr c, PolicyIntent.Block b) {
      return within(c, Cidr.parse(b.cidr()))
          && b.except().stream().noneMatch(x -> within(c, Cidr.parse(x)));
    }

    private static boolean within(Cidr inner, Cidr outer) {
      return inner.prefixLength() >= outer.prefixLength() && outer.contains(inner.base());
    }

    private void emit(Direction dir, int identity, int proto, int port, int prefix) {
      out.add(new PolicyEntry(id, dir, identity, proto, port, prefix, endpoint.pod()));
    }
  }
}
