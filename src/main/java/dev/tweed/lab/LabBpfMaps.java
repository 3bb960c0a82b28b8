package dev.tweed.lab;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.datastore.Datastore;
import dev.tweed.ebpf.BpfMap;
import dev.tweed.ebpf.Datapath;
import dev.tweed.ebpf.DatapathMaps;
import dev.tweed.ebpf.EbpfIntent;
import dev.tweed.ebpf.Identities;
import dev.tweed.ebpf.IdentityAllocator;
import dev.tweed.ebpf.LbMaps;
import dev.tweed.ebpf.LbService;
import dev.tweed.model.Cidr;
import dev.tweed.model.IpAddress;
import dev.tweed.model.IpFamily;
import dev.tweed.model.NodeResource;
import dev.tweed.model.WorkloadEndpoint;
import dev.tweed.proxy.ServicePort;
import dev.tweed.proxy.ServicePortResolver;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.BiConsumer;

/**
 * A node's datapath maps read from their pins and told in words, as {@code cilium map get} and
 * {@code cilium bpf ipcache list} tell Cilium's: pods by name, identities with their labels.
 */
public final class LabBpfMaps {
  private final Path pins;
  private final Map<String, WorkloadEndpoint> endpointsByIp = new HashMap<>();
  private final Map<String, String> nodesByIp = new HashMap<>();
  private final Map<Integer, List<String>> labels = new TreeMap<>(Identities.RESERVED);

  /** Service port names by frontend ("ip:port/protocol number") and by frontend kind. */
  private final Map<String, String[]> frontendNames = new HashMap<>();

  public LabBpfMaps(LabLayout layout, String node, Datastore store) {
    this.pins = LabBpf.pinDir(layout, node);
    if (!Files.exists(pins.resolve(DatapathMaps.ENDPOINTS))) {
      throw new IllegalStateException(
          "node " + node + " has no eBPF maps (is the lab up with --dataplane ebpf?)");
    }
    for (var e : store.list(WorkloadEndpoint.KIND + "/").entries()) {
      WorkloadEndpoint w = WorkloadEndpoint.from(e.value());
      w.ips().forEach(ip -> endpointsByIp.put(ip, w));
    }
    for (var e : store.list(NodeResource.KIND + "/").entries()) {
      NodeResource n = NodeResource.from(e.value());
      n.internalIps().forEach(ip -> nodesByIp.put(ip, n.name()));
    }
    List<JsonNode> ids = new ArrayList<>();
    store.list(IdentityAllocator.KIND + "/").entries().forEach(e -> ids.add(e.value()));
    IdentityAllocator.read(ids).forEach((l, id) -> labels.put(id, l));
    nameFrontends(store);
    for (EbpfIntent.IpcacheEntry e : ipcacheEntries()) {
      if (e.identity() >= Identities.FIRST_LOCAL) {
        labels.put(e.identity(), Identities.cidrLabels(e.cidr()));
      }
    }
  }

  private void nameFrontends(Datastore store) {
    List<JsonNode> services = new ArrayList<>();
    List<JsonNode> slices = new ArrayList<>();
    store.list("Service/").entries().forEach(e -> services.add(e.value()));
    store.list("EndpointSlice/").entries().forEach(e -> slices.add(e.value()));
    List<ServicePort> ports = new ArrayList<>();
    for (IpFamily f : IpFamily.values()) {
      ports.addAll(ServicePortResolver.resolve(services, slices, f));
    }
    for (ServicePort p : ports) {
      if (!p.protocol().equals("TCP") && !p.protocol().equals("UDP")) {
        continue;
      }
      int proto = LbService.protocolNumber(p.protocol());
      String name = p.portNameString();
      frontendNames.put(
          p.clusterIp() + ":" + p.port() + "/" + proto, new String[] {name, "ClusterIP"});
      if (p.nodePort() != 0) {
        nodesByIp
            .keySet()
            .forEach(
                ip ->
                    frontendNames.put(
                        ip + ":" + p.nodePort() + "/" + proto, new String[] {name, "NodePort"}));
      }
      p.externalIps()
          .forEach(
              ip ->
                  frontendNames.put(
                      ip + ":" + p.port() + "/" + proto, new String[] {name, "ExternalIP"}));
      p.loadBalancerIps()
          .forEach(
              ip ->
                  frontendNames.put(
                      ip + ":" + p.port() + "/" + proto, new String[] {name, "LoadBalancer"}));
    }
  }

  private BpfMap open(String name) {
    int[] sizes = Datapath.MAPS.get(name);
    return BpfMap.pinned(pins.resolve(name), sizes[0], sizes[1]);
  }

  /** The families whose maps the node's datapath pinned (an older datapath has IPv4's only). */
  private List<IpFamily> families() {
    return Files.exists(pins.resolve(DatapathMaps.of(DatapathMaps.ENDPOINTS, IpFamily.IPV6)))
        ? List.of(IpFamily.IPV4, IpFamily.IPV6)
        : List.of(IpFamily.IPV4);
  }

  /** Every entry of a map, in each family's map of it. */
  private void forEachEntry(String ipv4Map, BiConsumer<byte[], byte[]> action) {
    for (IpFamily f : families()) {
      try (BpfMap m = open(DatapathMaps.of(ipv4Map, f))) {
        m.entries().forEach((k, v) -> action.accept(HexFormat.of().parseHex(k), v));
      }
    }
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
    forEachEntry(
        DatapathMaps.ENDPOINTS,
        (k, v) -> {
          var e = DatapathMaps.endpoint(k, v);
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
    out.sort(Comparator.comparingInt(EndpointRow::id).thenComparing(EndpointRow::ip));
    return out;
  }

  private List<EbpfIntent.IpcacheEntry> ipcacheEntries() {
    List<EbpfIntent.IpcacheEntry> out = new ArrayList<>();
    forEachEntry(DatapathMaps.IPCACHE, (k, v) -> out.add(DatapathMaps.ipcache(k, v)));
    out.sort(Comparator.comparing(e -> Cidr.parse(e.cidr())));
    return out;
  }

  /** An IP cache entry and who it is: a pod, a node, or the labels of its identity. */
  public record IpcacheRow(String prefix, int identity, String tunnelEndpoint, String owner) {}

  public List<IpcacheRow> ipcache() {
    List<IpcacheRow> out = new ArrayList<>();
    for (EbpfIntent.IpcacheEntry e : ipcacheEntries()) {
      Cidr c = Cidr.parse(e.cidr());
      String ip = c.isHost() ? c.baseAddress() : "";
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
    TreeSet<Integer> used = new TreeSet<>(Identities.RESERVED.keySet());
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
              p.direction().name().toLowerCase(Locale.ROOT),
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

  /**
   * A frontend and where it leads: the Service port it belongs to, its kind, the scope of backends
   * it uses, the backends in slot order with their pods ({@code cilium bpf lb list}).
   */
  public record ServiceRow(
      String service,
      String frontend,
      String protocol,
      String type,
      int id,
      String scope,
      boolean masquerade,
      boolean sourceRanges,
      int affinitySeconds,
      String whenEmpty,
      List<String> backends) {}

  /** Each family's services (a dual-stack Service's port is a service in each). */
  public List<ServiceRow> services() {
    List<ServiceRow> out = new ArrayList<>();
    families().forEach(f -> out.addAll(services(f)));
    out.sort(Comparator.comparing(ServiceRow::service).thenComparing(ServiceRow::frontend));
    return out;
  }

  private List<ServiceRow> services(IpFamily family) {
    Map<String, LbMaps.ServiceEntry> heads = new HashMap<>();
    Map<String, LbMaps.ServiceEntry> slots = new HashMap<>();
    try (BpfMap m = open(DatapathMaps.of(LbMaps.SERVICES, family))) {
      m.entries()
          .forEach(
              (k, v) -> {
                var e = LbMaps.service(HexFormat.of().parseHex(k), v);
                String scope = e.service() + "/" + e.external();
                (e.slot() == 0 ? heads : slots)
                    .put(scope + (e.slot() == 0 ? "" : "/" + e.slot()), e);
              });
    }
    Map<Integer, LbMaps.BackendEntry> backends = backendEntries(family);
    List<ServiceRow> out = new ArrayList<>();
    try (BpfMap m = open(DatapathMaps.of(LbMaps.FRONTENDS, family))) {
      m.entries()
          .forEach(
              (k, v) -> {
                var f = LbMaps.frontend(HexFormat.of().parseHex(k), v);
                String[] name =
                    frontendNames.getOrDefault(
                        f.ip() + ":" + f.port() + "/" + f.protocol(), new String[] {"", ""});
                String scope = f.service() + "/" + f.external();
                LbMaps.ServiceEntry head = heads.get(scope);
                List<String> bs = new ArrayList<>();
                int count = head == null ? 0 : head.countOrBackend();
                for (int i = 1; i <= count; i++) {
                  LbMaps.ServiceEntry slot = slots.get(scope + "/" + i);
                  LbMaps.BackendEntry b = slot == null ? null : backends.get(slot.countOrBackend());
                  bs.add(
                      b == null
                          ? "(slot " + i + " missing)"
                          : IpAddress.hostPort(b.ip(), b.port())
                              + (pod(b.ip()).isEmpty() ? "" : " (" + pod(b.ip()) + ")"));
                }
                out.add(
                    new ServiceRow(
                        name[0],
                        IpAddress.hostPort(f.ip(), f.port()),
                        protocol(f.protocol()),
                        name[1],
                        f.service(),
                        f.external() ? "external" : "internal",
                        f.masquerade(),
                        f.ranges(),
                        head == null ? 0 : head.affinitySeconds(),
                        count > 0 ? "-" : head != null && head.dropWhenEmpty() ? "drop" : "reject",
                        bs));
              });
    }
    return out;
  }

  /** A backend: its id, address, the pod behind it, the service it belongs to, its state. */
  public record BackendRow(
      int id,
      String address,
      String protocol,
      String pod,
      String node,
      String service,
      String state) {}

  public List<BackendRow> backends() {
    List<BackendRow> out = new ArrayList<>();
    families().forEach(f -> out.addAll(backends(f)));
    return out;
  }

  private List<BackendRow> backends(IpFamily family) {
    Map<Integer, String> serviceNames = new HashMap<>();
    services(family).forEach(r -> serviceNames.putIfAbsent(r.id(), r.service()));
    List<BackendRow> out = new ArrayList<>();
    backendEntries(family)
        .values()
        .forEach(
            b -> {
              WorkloadEndpoint w = endpointsByIp.get(b.ip());
              out.add(
                  new BackendRow(
                      b.id(),
                      IpAddress.hostPort(b.ip(), b.port()),
                      protocol(b.protocol()),
                      w == null ? "" : w.pod(),
                      w == null ? nodesByIp.getOrDefault(b.ip(), "") : w.node(),
                      serviceNames.getOrDefault(b.service(), ""),
                      // Only ready endpoints are written: one in the map is in rotation.
                      "active"));
            });
    out.sort(Comparator.comparingInt(BackendRow::id));
    return out;
  }

  private Map<Integer, LbMaps.BackendEntry> backendEntries(IpFamily family) {
    Map<Integer, LbMaps.BackendEntry> out = new TreeMap<>();
    try (BpfMap m = open(DatapathMaps.of(LbMaps.BACKENDS, family))) {
      m.entries()
          .forEach(
              (k, v) -> {
                var b = LbMaps.backend(HexFormat.of().parseHex(k), v);
                out.put(b.id(), b);
              });
    }
    return out;
  }

  public record ConnectionRow(
      String protocol,
      String source,
      int sourcePort,
      String destination,
      int destinationPort,
      long ageSeconds,
      long idleSeconds,
      boolean throughStack,
      boolean closing,
      String translation) {}

  public List<ConnectionRow> conntrack() {
    List<ConnectionRow> out = new ArrayList<>();
    long now = System.nanoTime(); // CLOCK_MONOTONIC, as bpf_ktime_get_ns
    forEachEntry(
        DatapathMaps.CONNTRACK,
        (k, v) -> {
          var c = DatapathMaps.connection(k, v);
          out.add(
              new ConnectionRow(
                  protocol(c.protocol()),
                  c.source(),
                  c.sourcePort(),
                  c.destination(),
                  c.destinationPort(),
                  Math.max(0, (now - c.createdNanos()) / 1_000_000_000L),
                  Math.max(0, (now - c.lastSeenNanos()) / 1_000_000_000L),
                  c.throughStack(),
                  c.closing(),
                  c.translation().toString()));
        });
    out.sort(
        Comparator.comparing(ConnectionRow::source)
            .thenComparing(ConnectionRow::destination)
            .thenComparingInt(ConnectionRow::sourcePort));
    return out;
  }
}
