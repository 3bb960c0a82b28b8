package dev.tweed.trace.bpf;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.ebpf.DatapathMaps;
import dev.tweed.ebpf.EbpfIntent;
import dev.tweed.ebpf.LbMaps;
import dev.tweed.model.Cidr;
import dev.tweed.model.Ipv4;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
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
    Map<Integer, LbMaps.BackendEntry> backends,
    List<LbMaps.AffinityEntry> affinity,
    List<SourceRange> sourceRanges) {

  /** tw_config: the node's datapath settings. */
  public record Config(
      int vxlanIfindex, String serviceNet, int serviceMask, boolean bgp, String nodeIp) {
    boolean inServiceNet(int addr) {
      return serviceMask != 0 && (addr & serviceMask) == Ipv4.parse(serviceNet);
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
          default -> String.valueOf(proto);
        };
    return name + " " + src + ":" + sport + " > " + dst + ":" + dport;
  }

  static String frontendKey(String ip, int port, int proto) {
    return ip + ":" + port + "/" + proto;
  }

  static String serviceKey(int service, boolean external, int slot) {
    return service + (external ? "/external/" : "/internal/") + slot;
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
    for (byte[][] e : entries(maps, DatapathMaps.ENDPOINTS)) {
      DatapathMaps.EndpointValue v = DatapathMaps.endpoint(e[0], e[1]);
      endpoints.put(v.ip(), v);
    }
    List<EbpfIntent.IpcacheEntry> ipcache = new ArrayList<>();
    for (byte[][] e : entries(maps, DatapathMaps.IPCACHE)) {
      ipcache.add(DatapathMaps.ipcache(e[0], e[1]));
    }
    List<EbpfIntent.PolicyEntry> policy = new ArrayList<>();
    for (byte[][] e : entries(maps, DatapathMaps.POLICY)) {
      policy.add(DatapathMaps.policy(e[0]));
    }
    Map<String, DatapathMaps.Connection> ct = new HashMap<>();
    for (byte[][] e : entries(maps, DatapathMaps.CONNTRACK)) {
      DatapathMaps.Connection c = DatapathMaps.connection(e[0], e[1]);
      ct.put(
          tupleKey(c.protocol(), c.source(), c.sourcePort(), c.destination(), c.destinationPort()),
          c);
    }
    Optional<Config> config =
        entries(maps, DatapathMaps.CONFIG).stream().findFirst().map(e -> config(e[1]));
    Map<String, LbMaps.FrontendEntry> frontends = new HashMap<>();
    for (byte[][] e : entries(maps, LbMaps.FRONTENDS)) {
      LbMaps.FrontendEntry f = LbMaps.frontend(e[0], e[1]);
      frontends.put(frontendKey(f.ip(), f.port(), f.protocol()), f);
    }
    Map<String, LbMaps.ServiceEntry> services = new HashMap<>();
    for (byte[][] e : entries(maps, LbMaps.SERVICES)) {
      LbMaps.ServiceEntry s = LbMaps.service(e[0], e[1]);
      services.put(serviceKey(s.service(), s.external(), s.slot()), s);
    }
    Map<Integer, LbMaps.BackendEntry> backends = new HashMap<>();
    for (byte[][] e : entries(maps, LbMaps.BACKENDS)) {
      LbMaps.BackendEntry b = LbMaps.backend(e[0], e[1]);
      backends.put(b.id(), b);
    }
    List<LbMaps.AffinityEntry> affinity = new ArrayList<>();
    for (byte[][] e : entries(maps, LbMaps.AFFINITY)) {
      affinity.add(LbMaps.affinity(e[0], e[1]));
    }
    List<SourceRange> ranges = new ArrayList<>();
    for (byte[][] e : entries(maps, LbMaps.SOURCE_RANGES)) {
      ByteBuffer k = ByteBuffer.wrap(e[0]).order(ByteOrder.LITTLE_ENDIAN);
      int prefix = k.getInt(0) - 32;
      String addr = DatapathMaps.address(e[0], 8);
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

  private static Config config(byte[] v) {
    ByteBuffer le = ByteBuffer.wrap(v).order(ByteOrder.LITTLE_ENDIAN);
    ByteBuffer be = ByteBuffer.wrap(v).order(ByteOrder.BIG_ENDIAN);
    String net = DatapathMaps.address(v, 4);
    String node = DatapathMaps.address(v, 16);
    return new Config(
        le.getInt(0),
        net,
        be.getInt(8),
        (le.getInt(12) & 1) != 0,
        node.equals("0.0.0.0") ? "" : node);
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
