package dev.tweed.trace.bpf;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.ebpf.DatapathMaps;
import dev.tweed.ebpf.EbpfIntent;
import dev.tweed.ebpf.LbMaps;
import dev.tweed.model.Cidr;
import dev.tweed.model.IpAddress;
import dev.tweed.model.IpFamily;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What Tweed's programs in one namespace see: which program is attached to which device's tc hook,
 * and every datapath map's entries, decoded with the agent's own codecs, at the moment of capture.
 *
 * @param monotonicNanos when the maps were dumped, on the programs' clock (CLOCK_MONOTONIC)
 */
public record BpfState(
    long monotonicNanos,
    List<TcAttachment> attachments,
    Map<String, DatapathMaps.EndpointValue> endpoints,
    List<EbpfIntent.IpcacheEntry> ipcache,
    List<EbpfIntent.PolicyEntry> policy,
    Map<String, DatapathMaps.Connection> conntrack,
    Optional<Config> config,
    Map<String, LbMaps.FrontendEntry> frontends,
    Map<String, LbMaps.ServiceEntry> services,
    Map<String, LbMaps.BackendEntry> backends,
    List<LbMaps.AffinityEntry> affinity,
    List<SourceRange> sourceRanges) {

  /**
   * tw_config and tw_config6: the node's datapath settings, each family's Service network ("" for
   * none) and the node's address of each family ("" for none).
   */
  public record Config(
      int vxlanIfindex,
      boolean bgp,
      Map<IpFamily, String> serviceNets,
      Map<IpFamily, String> nodeIps) {
    boolean inServiceNet(IpAddress addr) {
      String net = serviceNets.getOrDefault(addr.family(), "");
      return !net.isEmpty() && Cidr.parse(net).contains(addr);
    }

    public String nodeIp(IpFamily family) {
      return nodeIps.getOrDefault(family, "");
    }
  }

  /** tw_lb_source_ranges: a load balancer's allowed source range. */
  public record SourceRange(int service, String cidr) {}

  public static final BpfState NONE =
      new BpfState(
          0,
          List.of(),
          Map.of(),
          List.of(),
          List.of(),
          Map.of(),
          Optional.empty(),
          Map.of(),
          Map.of(),
          Map.of(),
          List.of(),
          List.of());

  /** Tweed's programs run in this namespace. */
  public boolean present() {
    return attachments.stream().anyMatch(a -> TweedPrograms.NAMES.contains(a.program()));
  }

  public Optional<TcAttachment> attached(String device, String direction) {
    return attachments.stream()
        .filter(a -> a.device().equals(device) && a.direction().equals(direction))
        .filter(a -> TweedPrograms.NAMES.contains(a.program()))
        .findFirst();
  }

  /** Keys of the tuple-keyed maps, in words: "tcp 10.0.0.1:40000 > 10.0.0.2:80". */
  static String tupleKey(int proto, String src, int sport, String dst, int dport) {
    String name =
        switch (proto) {
          case 6 -> "tcp";
          case 17 -> "udp";
          case 1 -> "icmp";
          case 58 -> "icmpv6";
          default -> String.valueOf(proto);
        };
    return name + " " + src + ":" + sport + " > " + dst + ":" + dport;
  }

  static String frontendKey(String ip, int port, int proto) {
    return ip + ":" + port + "/" + proto;
  }

  /** A service map entry's key: each family numbers its own services. */
  static String serviceKey(IpFamily family, int service, boolean external, int slot) {
    return family.number() + ":" + service + (external ? "/external/" : "/internal/") + slot;
  }

  /** A backend's key: each family numbers its own backends. */
  static String backendKey(IpFamily family, int id) {
    return family.number() + ":" + id;
  }

  /**
   * From {@code bpftool -j net show} and the capture's {@code bpf-maps.json}; either may be empty
   * (a namespace without the eBPF datapath).
   */
  public static BpfState parse(JsonNode net, JsonNode dump) {
    List<TcAttachment> attached = new ArrayList<>();
    for (JsonNode n : net) {
      for (JsonNode t : n.path("tc")) {
        String kind = t.path("kind").asText();
        String name = t.path("name").asText().replaceAll(":\\[\\d+\\]$", "");
        attached.add(
            new TcAttachment(
                t.path("devname").asText(),
                t.path("ifindex").asInt(),
                kind.endsWith("egress") ? "egress" : "ingress",
                name));
      }
    }
    JsonNode maps = dump.path("maps");
    Map<String, DatapathMaps.EndpointValue> endpoints = new HashMap<>();
    for (byte[][] e : entries(maps, DatapathMaps.ENDPOINTS, FAMILIES)) {
      DatapathMaps.EndpointValue v = DatapathMaps.endpoint(e[0], e[1]);
      endpoints.put(v.ip(), v);
    }
    List<EbpfIntent.IpcacheEntry> ipcache = new ArrayList<>();
    for (byte[][] e : entries(maps, DatapathMaps.IPCACHE, FAMILIES)) {
      ipcache.add(DatapathMaps.ipcache(e[0], e[1]));
    }
    List<EbpfIntent.PolicyEntry> policy = new ArrayList<>();
    for (byte[][] e : entries(maps, DatapathMaps.POLICY)) {
      policy.add(DatapathMaps.policy(e[0]));
    }
    Map<String, DatapathMaps.Connection> ct = new HashMap<>();
    for (byte[][] e : entries(maps, DatapathMaps.CONNTRACK, FAMILIES)) {
      DatapathMaps.Connection c = DatapathMaps.connection(e[0], e[1]);
      ct.put(
          tupleKey(c.protocol(), c.source(), c.sourcePort(), c.destination(), c.destinationPort()),
          c);
    }
    Optional<Config> config =
        entries(maps, DatapathMaps.CONFIG).stream()
            .findFirst()
            .map(
                e ->
                    config(
                        e[1],
                        entries(maps, DatapathMaps.CONFIG6).stream().findFirst().map(c -> c[1])));
    Map<String, LbMaps.FrontendEntry> frontends = new HashMap<>();
    for (byte[][] e : entries(maps, LbMaps.FRONTENDS, FAMILIES)) {
      LbMaps.FrontendEntry f = LbMaps.frontend(e[0], e[1]);
      frontends.put(frontendKey(f.ip(), f.port(), f.protocol()), f);
    }
    Map<String, LbMaps.ServiceEntry> services = new HashMap<>();
    Map<String, LbMaps.BackendEntry> backends = new HashMap<>();
    for (IpFamily f : FAMILIES) {
      for (byte[][] e : entries(maps, DatapathMaps.of(LbMaps.SERVICES, f))) {
        LbMaps.ServiceEntry s = LbMaps.service(e[0], e[1]);
        services.put(serviceKey(f, s.service(), s.external(), s.slot()), s);
      }
      for (byte[][] e : entries(maps, DatapathMaps.of(LbMaps.BACKENDS, f))) {
        LbMaps.BackendEntry b = LbMaps.backend(e[0], e[1]);
        backends.put(backendKey(f, b.id()), b);
      }
    }
    List<LbMaps.AffinityEntry> affinity = new ArrayList<>();
    for (byte[][] e : entries(maps, LbMaps.AFFINITY, FAMILIES)) {
      affinity.add(LbMaps.affinity(e[0], e[1]));
    }
    List<SourceRange> ranges = new ArrayList<>();
    for (byte[][] e : entries(maps, LbMaps.SOURCE_RANGES, FAMILIES)) {
      ByteBuffer k = ByteBuffer.wrap(e[0]).order(ByteOrder.LITTLE_ENDIAN);
      int prefix = k.getInt(0) - 32;
      String addr = DatapathMaps.address(e[0], 8, e[0].length - 8);
      ranges.add(new SourceRange(k.getInt(4), Cidr.parse(addr + "/" + prefix).toString()));
    }
    return new BpfState(
        dump.path("monotonicNanos").asLong(0),
        List.copyOf(attached),
        Map.copyOf(endpoints),
        List.copyOf(ipcache),
        List.copyOf(policy),
        Map.copyOf(ct),
        config,
        Map.copyOf(frontends),
        Map.copyOf(services),
        Map.copyOf(backends),
        List.copyOf(affinity),
        List.copyOf(ranges));
  }

  private static final List<IpFamily> FAMILIES = List.of(IpFamily.values());

  private static Config config(byte[] v, Optional<byte[]> v6) {
    ByteBuffer le = ByteBuffer.wrap(v).order(ByteOrder.LITTLE_ENDIAN);
    Map<IpFamily, String> nets = new EnumMap<>(IpFamily.class);
    Map<IpFamily, String> nodes = new EnumMap<>(IpFamily.class);
    put(nets, net(v, 4, 4));
    put(nodes, unlessZero(DatapathMaps.address(v, 16, 4)));
    v6.ifPresent(
        c -> {
          put(nets, net(c, 0, 16));
          put(nodes, unlessZero(DatapathMaps.address(c, 32, 16)));
        });
    return new Config(le.getInt(0), (le.getInt(12) & 1) != 0, nets, nodes);
  }

  /** The network and mask of {@code len}-byte addresses at {@code off}: a CIDR, or "" for none. */
  private static String net(byte[] v, int off, int len) {
    int prefix = 0;
    for (int i = off + len; i < off + 2 * len; i++) {
      prefix += Integer.bitCount(v[i] & 0xff);
    }
    return prefix == 0 ? "" : DatapathMaps.address(v, off, len) + "/" + prefix;
  }

  private static String unlessZero(String ip) {
    return IpAddress.parse(ip).equals(IpAddress.unspecified(IpFamily.of(ip))) ? "" : ip;
  }

  private static void put(Map<IpFamily, String> out, String cidrOrIp) {
    if (!cidrOrIp.isEmpty()) {
      out.put(IpFamily.of(cidrOrIp.split("/")[0]), cidrOrIp);
    }
  }

  /** Every family's map of a kind (tw_ct and tw_ct6), entries together. */
  private static List<byte[][]> entries(JsonNode maps, String ipv4Map, List<IpFamily> families) {
    List<byte[][]> out = new ArrayList<>();
    for (IpFamily f : families) {
      out.addAll(entries(maps, DatapathMaps.of(ipv4Map, f)));
    }
    return out;
  }

  /** A map's entries as (key, value) bytes; bpftool prints each byte as "0x..". */
  private static List<byte[][]> entries(JsonNode maps, String name) {
    List<byte[][]> out = new ArrayList<>();
    for (JsonNode e : maps.path(name)) {
      if (e.has("key") && e.has("value")) {
        out.add(new byte[][] {bytes(e.path("key")), bytes(e.path("value"))});
      }
    }
    return out;
  }

  private static byte[] bytes(JsonNode hex) {
    byte[] b = new byte[hex.size()];
    for (int i = 0; i < b.length; i++) {
      b[i] = (byte) Integer.parseInt(hex.get(i).asText().substring(2), 16);
    }
    return b;
  }
}
