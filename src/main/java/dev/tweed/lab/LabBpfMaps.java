package dev.tweed.lab;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.datastore.Datastore;
import dev.tweed.ebpf.BpfMap;
import dev.tweed.ebpf.Datapath;
import dev.tweed.ebpf.DatapathMaps;
import dev.tweed.ebpf.EbpfIntent;
import dev.tweed.ebpf.Identities;
import dev.tweed.ebpf.IdentityAllocator;
import dev.tweed.model.NodeResource;
import dev.tweed.model.WorkloadEndpoint;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A node's datapath maps read from their pins and told in words, as {@code cilium map get} and
 * {@code cilium bpf ipcache list} tell Cilium's: pods by name, identities with their labels.
 */
public final class LabBpfMaps {
  private final Path pins;
  private final Map<String, WorkloadEndpoint> endpointsByIp = new HashMap<>();
  private final Map<String, String> nodesByIp = new HashMap<>();
  private final Map<Integer, List<String>> labels = new TreeMap<>(Identities.RESERVED);

  public LabBpfMaps(LabLayout layout, String node, Datastore store) {
    this.pins = LabBpf.pinDir(layout, node);
    if (!Files.exists(pins.resolve(DatapathMaps.ENDPOINTS))) {
      throw new IllegalStateException(
          "node " + node + " has no eBPF maps (is the lab up with --dataplane ebpf?)");
    }
    for (var e : store.list(WorkloadEndpoint.KIND + "/").entries()) {
      WorkloadEndpoint w = WorkloadEndpoint.from(e.value());
      endpointsByIp.put(w.ip(), w);
    }
    for (var e : store.list(NodeResource.KIND + "/").entries()) {
      NodeResource n = NodeResource.from(e.value());
      nodesByIp.put(n.internalIp(), n.name());
    }
    List<JsonNode> ids = new ArrayList<>();
    store.list(IdentityAllocator.KIND + "/").entries().forEach(e -> ids.add(e.value()));
    IdentityAllocator.read(ids).forEach((l, id) -> labels.put(id, l));
    for (EbpfIntent.IpcacheEntry e : ipcacheEntries()) {
      if (e.identity() >= Identities.FIRST_LOCAL) {
        labels.put(e.identity(), Identities.cidrLabels(e.cidr()));
      }
    }
  }

  private BpfMap open(String name) {
    int[] sizes = Datapath.MAPS.get(name);
    return BpfMap.pinned(pins.resolve(name), sizes[0], sizes[1]);
  }

  private String pod(String ip) {
    WorkloadEndpoint w = endpointsByIp.get(ip);
    return w == null ? "" : w.pod();
  }

  public List<String> labels(int identity) {
    return labels.getOrDefault(identity, List.of());
  }

  public record EndpointRow(
      int id,
      String pod,
      String ip,
      String hostInterface,
      int ifindex,
      int identity,
      boolean ingressPolicy,
      boolean egressPolicy,
      String mac) {}

  public List<EndpointRow> endpoints() {
    List<EndpointRow> out = new ArrayList<>();
    try (BpfMap m = open(DatapathMaps.ENDPOINTS)) {
      m.entries()
          .forEach(
              (k, v) -> {
                var e = DatapathMaps.endpoint(java.util.HexFormat.of().parseHex(k), v);
                WorkloadEndpoint w = endpointsByIp.get(e.ip());
                out.add(
                    new EndpointRow(
                        e.id(),
                        w == null ? "" : w.pod(),
                        e.ip(),
                        w == null ? "" : w.hostInterface(),
                        e.ifindex(),
                        e.identity(),
                        e.ingressIsolated(),
                        e.egressIsolated(),
                        e.mac()));
              });
    }
    out.sort(Comparator.comparingInt(EndpointRow::id));
    return out;
  }

  private List<EbpfIntent.IpcacheEntry> ipcacheEntries() {
    List<EbpfIntent.IpcacheEntry> out = new ArrayList<>();
    try (BpfMap m = open(DatapathMaps.IPCACHE)) {
      m.entries()
          .forEach(
              (k, v) -> out.add(DatapathMaps.ipcache(java.util.HexFormat.of().parseHex(k), v)));
    }
    out.sort(Comparator.comparing(e -> dev.tweed.model.Cidr.parse(e.cidr())));
    return out;
  }

  /** An IP cache entry and who it is: a pod, a node, or the labels of its identity. */
  public record IpcacheRow(String prefix, int identity, String tunnelEndpoint, String owner) {}

  public List<IpcacheRow> ipcache() {
    List<IpcacheRow> out = new ArrayList<>();
    for (EbpfIntent.IpcacheEntry e : ipcacheEntries()) {
      String ip = e.cidr().endsWith("/32") ? e.cidr().substring(0, e.cidr().length() - 3) : "";
      String owner =
          !pod(ip).isEmpty()
              ? pod(ip)
              : nodesByIp.containsKey(ip)
                  ? "node " + nodesByIp.get(ip)
                  : String.join(",", labels(e.identity()));
      out.add(new IpcacheRow(e.cidr(), e.identity(), e.tunnelEndpoint(), owner));
    }
    return out;
  }

  public record IdentityRow(int id, List<String> labels) {}

  /** The identities this node's maps use, with their labels. */
  public List<IdentityRow> identities() {
    java.util.TreeSet<Integer> used = new java.util.TreeSet<>(Identities.RESERVED.keySet());
    ipcacheEntries().forEach(e -> used.add(e.identity()));
    List<IdentityRow> out = new ArrayList<>();
    for (int id : used) {
      out.add(new IdentityRow(id, labels(id)));
    }
    return out;
  }

  public record PolicyRow(
      int endpoint,
      String pod,
      String direction,
      int identity,
      List<String> labels,
      String protocol,
      String ports) {}

  public List<PolicyRow> policy() {
    Map<Integer, String> pods = new HashMap<>();
    endpoints().forEach(e -> pods.put(e.id(), e.pod()));
    List<EbpfIntent.PolicyEntry> entries = new ArrayList<>();
    try (BpfMap m = open(DatapathMaps.POLICY)) {
      m.keys().forEach(k -> entries.add(DatapathMaps.policy(k)));
    }
    entries.sort(null);
    List<PolicyRow> out = new ArrayList<>();
    for (EbpfIntent.PolicyEntry p : entries) {
      out.add(
          new PolicyRow(
              p.endpoint(),
              pods.getOrDefault(p.endpoint(), ""),
              p.direction().name().toLowerCase(java.util.Locale.ROOT),
              p.identity(),
              p.identity() == 0 ? List.of("any") : labels(p.identity()),
              protocol(p.protocol()),
              p.protocol() == 0 ? "any" : p.ports()));
    }
    return out;
  }

  static String protocol(int p) {
    return switch (p) {
      case 0 -> "any";
      case 1 -> "ICMP";
      case 6 -> "TCP";
      case 17 -> "UDP";
      case 132 -> "SCTP";
      default -> String.valueOf(p);
    };
  }

  public record ConnectionRow(
      String protocol,
      String source,
      int sourcePort,
      String destination,
      int destinationPort,
      long ageSeconds,
      long idleSeconds,
      boolean throughStack) {}

  public List<ConnectionRow> conntrack() {
    List<ConnectionRow> out = new ArrayList<>();
    long now = System.nanoTime(); // CLOCK_MONOTONIC, as bpf_ktime_get_ns
    try (BpfMap m = open(DatapathMaps.CONNTRACK)) {
      m.entries()
          .forEach(
              (k, v) -> {
                var c = DatapathMaps.connection(java.util.HexFormat.of().parseHex(k), v);
                out.add(
                    new ConnectionRow(
                        protocol(c.protocol()),
                        c.source(),
                        c.sourcePort(),
                        c.destination(),
                        c.destinationPort(),
                        Math.max(0, (now - c.createdNanos()) / 1_000_000_000L),
                        Math.max(0, (now - c.lastSeenNanos()) / 1_000_000_000L),
                        c.throughStack()));
              });
    }
    out.sort(
        Comparator.comparing(ConnectionRow::source)
            .thenComparing(ConnectionRow::destination)
            .thenComparingInt(ConnectionRow::sourcePort));
    return out;
  }
}
