package dev.tweed.ebpf;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.model.IpAddress;
import dev.tweed.model.Ipv4;
import dev.tweed.model.Json;
import dev.tweed.sys.Command;
import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The C datapath is the one source of truth for its layouts and constants; the Java side that
 * writes its maps and models its programs must agree with it. The sources are compiled as the agent
 * compiles them (clang, with BTF), and compared: every {@code #define} the Java side names, by
 * value; every map's key and value size, from the object's BTF; every program; the struct sizes the
 * Java side declares as {@code <STRUCT>_SIZE}; and every member of every struct the Java side
 * encodes or decodes, at the offset and size BTF gives it. Needs clang and bpftool (the test
 * command installs them), no root.
 */
class DatapathLayoutTest {
  @TempDir static Path dir;

  static Map<String, Long> defines;
  static Btf btf;

  @BeforeAll
  static void compile() throws IOException {
    DatapathObject.writeSources(dir, DatapathObject.sources());
    Path source = dir.resolve(DatapathObject.SOURCE);
    // The macro definitions as the compiler sees them, after preprocessing.
    List<String> preprocess = new ArrayList<>(DatapathObject.clang());
    preprocess.addAll(List.of("-E", "-dM", source.toString()));
    defines = integerDefines(Command.run(preprocess));
    Path object = dir.resolve(DatapathObject.OBJECT);
    Command.run(DatapathObject.compile(source, object));
    btf =
        new Btf(
            Json.parse(
                Command.run(List.of("bpftool", "-j", "btf", "dump", "file", object.toString()))));
  }

  @Test
  void everySourceFileIsShippedAndNoneIsForgotten() throws IOException, URISyntaxException {
    Path root = Path.of(DatapathObject.class.getResource("/" + DatapathObject.SOURCE_DIR).toURI());
    try (Stream<Path> files = Files.walk(root)) {
      List<String> onDisk =
          files.filter(Files::isRegularFile).map(f -> root.relativize(f).toString()).toList();
      assertThat(onDisk).containsExactlyInAnyOrderElementsOf(DatapathObject.SOURCES);
    }
  }

  @Test
  void everyConstantTheJavaSideNamesHasTheValueTheHeadersDefine() throws IllegalAccessException {
    Map<String, Long> java = new TreeMap<>();
    for (Class<?> c : List.of(DatapathMaps.class, LbMaps.class)) {
      for (Field f : c.getDeclaredFields()) {
        if (Modifier.isStatic(f.getModifiers())
            && (f.getType() == int.class || f.getType() == long.class)
            && defines.containsKey(f.getName())) {
          f.setAccessible(true);
          java.put(f.getName(), ((Number) f.get(null)).longValue());
        }
      }
    }
    // Not vacuous: the constants both sides must share are all found.
    assertThat(java)
        .containsKeys(
            "MARK_FORWARDED",
            "CT_STACK",
            "CT_SVC",
            "CT_REVNAT",
            "CT_CLOSING",
            "EP_INGRESS_ISOLATED",
            "EP_EGRESS_ISOLATED",
            "CFG_BGP",
            "CFG_NO_FLOWS",
            "FE_EXTERNAL",
            "FE_MASQUERADE",
            "FE_SOURCE_RANGES",
            "SVC_DROP_EMPTY");
    java.forEach(
        (name, value) ->
            assertThat(value)
                .as("%s: Java against the C headers", name)
                .isEqualTo(defines.get(name)));
  }

  @Test
  void everyMapHasTheKeyAndValueSizesTheAgentWrites() {
    Map<String, int[]> c = btf.maps();
    assertThat(c.keySet()).containsAll(Datapath.MAPS.keySet());
    Datapath.MAPS.forEach(
        (name, sizes) -> {
          assertThat(c.get(name)[0]).as("%s key size", name).isEqualTo(sizes[0]);
          assertThat(c.get(name)[1]).as("%s value size", name).isEqualTo(sizes[1]);
        });
  }

  @Test
  void theStructsTheJavaSideSizesHaveThoseSizes() throws IllegalAccessException {
    Map<String, Integer> checked = new TreeMap<>();
    for (Field f : DatapathMaps.class.getDeclaredFields()) {
      if (Modifier.isStatic(f.getModifiers()) && f.getName().endsWith("_SIZE")) {
        String struct = f.getName().substring(0, f.getName().length() - 5).toLowerCase();
        f.setAccessible(true);
        checked.put(struct, f.getInt(null));
      }
    }
    assertThat(checked).containsKeys("endpoint", "config", "ct_entry");
    checked.forEach(
        (struct, size) ->
            assertThat(btf.structSize(struct)).as("sizeof(struct %s)", struct).isEqualTo(size));
  }

  @Test
  void everyProgramTheAgentAttachesIsInTheObject() {
    assertThat(btf.functions()).containsAll(Datapath.PROGRAMS);
  }

  /**
   * What the Java encoders write is where the C structs have it: each entry encoded by the Java
   * side, then read member by member at the offsets and sizes the object's BTF gives, as raw bytes
   * in the byte order the C side reads them. Every member but padding is checked.
   */
  @Test
  void theJavaEncodersPutEveryMemberWhereTheStructHasIt() {
    var endpoint =
        new EbpfIntent.Endpoint(
            "10.244.1.5", "default/p", "tw0", "02:00:00:00:00:01", 5, 300, true, false);
    assertLayout(
        "endpoint",
        DatapathMaps.endpointValue(endpoint, 9, "02:00:00:00:00:02"),
        Map.of(
            "ifindex", le32(9),
            "id", le32(5),
            "identity", le32(300),
            "flags", le32(DatapathMaps.EP_INGRESS_ISOLATED),
            "mac", "020000000001",
            "node_mac", "020000000002"));
    assertLayout(
        "ipcache_key",
        DatapathMaps.ipcacheKey("10.244.1.0/26"),
        Map.of("prefixlen", le32(26), "addr", ip("10.244.1.0")));
    assertLayout(
        "ipcache_entry",
        DatapathMaps.ipcacheValue(new EbpfIntent.IpcacheEntry("10.244.1.0/26", 300, "172.31.0.12")),
        Map.of("identity", le32(300), "tunnel_endpoint", ip("172.31.0.12")));
    assertLayout(
        "policy_key",
        DatapathMaps.policyKey(
            new EbpfIntent.PolicyEntry(5, EbpfIntent.Direction.EGRESS, 300, 6, 8080, 16, "")),
        Map.of(
            "prefixlen", le32(32 + 32 + 8 + 8 + 16),
            "endpoint", le32(5),
            "identity", le32(300),
            "direction", "01",
            "protocol", "06",
            "port", be16(8080)));
    assertLayout("policy_entry", DatapathMaps.POLICY_ALLOW, Map.of("flags", le32(1)));
    assertLayout(
        "config",
        DatapathMaps.config(7, "10.96.0.0/16", true, "172.31.0.11", false),
        Map.of(
            "vxlan_ifindex", le32(7),
            "service_net", ip("10.96.0.0"),
            "service_mask", "ffff0000",
            "flags", le32(DatapathMaps.CFG_BGP | DatapathMaps.CFG_NO_FLOWS),
            "node_ip", ip("172.31.0.11")));
    assertLayout(
        "ct_key",
        DatapathMaps.connectionKey("10.244.1.5", 40000, "10.96.0.10", 80, 6),
        Map.of(
            "saddr", ip("10.244.1.5"),
            "daddr", ip("10.96.0.10"),
            "sport", be16(40000),
            "dport", be16(80),
            "protocol", "06"));
    assertLayout(
        "lb_frontend_key",
        LbMaps.frontendKey("10.96.0.10", 80, 17),
        Map.of("addr", ip("10.96.0.10"), "port", be16(80), "protocol", "11"));
    assertLayout(
        "lb_frontend",
        LbMaps.frontendValue(42, new LbService.Frontend("10.96.0.10", 80, 6, true, false, true)),
        Map.of("service", le32(42), "flags", le32(LbMaps.FE_EXTERNAL | LbMaps.FE_SOURCE_RANGES)));
    assertLayout(
        "lb_service_key",
        LbMaps.serviceKey(42, true, 3),
        Map.of("service", le32(42), "slot", le16(3), "scope", "01"));
    assertLayout(
        "lb_service",
        LbMaps.serviceHead(3, 10800, true),
        Map.of(
            "count_or_backend", le32(3),
            "affinity_seconds", le32(10800),
            "flags", le32(LbMaps.SVC_DROP_EMPTY)));
    assertLayout(
        "lb_backend",
        LbMaps.backendValue(42, new LbService.Backend(7, "10.244.1.5", 8080, "node-1"), 6),
        Map.of(
            "addr", ip("10.244.1.5"),
            "port", be16(8080),
            "protocol", "06",
            "flags", "00",
            "service", le32(42)));
  }

  /** The IPv6 maps' keys and values: the same encoders, 16-byte addresses where the C has them. */
  @Test
  void theJavaEncodersPutEveryIpv6MemberWhereTheStructHasIt() {
    assertLayout(
        "ipcache6_key",
        DatapathMaps.ipcacheKey("fd00:10:244:1::/122"),
        Map.of("prefixlen", le32(122), "addr", ip6("fd00:10:244:1::")));
    assertLayout(
        "config6",
        DatapathMaps.config6("fd00:10:96::/112", "fd00:172:31::11"),
        Map.of(
            "service_net", ip6("fd00:10:96::"),
            "service_mask", "ffffffffffffffffffffffffffff0000",
            "node_ip", ip6("fd00:172:31::11")));
    assertLayout(
        "ct6_key",
        DatapathMaps.connectionKey("fd00:10:244:1::5", 40000, "fd00:10:96::a", 80, 6),
        Map.of(
            "saddr", ip6("fd00:10:244:1::5"),
            "daddr", ip6("fd00:10:96::a"),
            "sport", be16(40000),
            "dport", be16(80),
            "protocol", "06"));
    assertLayout(
        "lb6_frontend_key",
        LbMaps.frontendKey("fd00:10:96::a", 80, 17),
        Map.of("addr", ip6("fd00:10:96::a"), "port", be16(80), "protocol", "11"));
    assertLayout(
        "lb6_backend",
        LbMaps.backendValue(42, new LbService.Backend(7, "fd00:10:244:1::5", 8080, "node-1"), 6),
        Map.of(
            "addr", ip6("fd00:10:244:1::5"),
            "port", be16(8080),
            "protocol", "06",
            "flags", "00",
            "service", le32(42)));
    assertLayout(
        "lb6_source_key",
        LbMaps.sourceRangeKey(42, "fd00:172:31::/48"),
        Map.of(
            "prefixlen", le32(32 + 48),
            "service", le32(42),
            "addr", ip6("fd00:172:31::")));
    Map<String, String> members = new LinkedHashMap<>();
    members.put("created_ns", le64(1_000_000_007L));
    members.put("last_seen_ns", le64(2_000_000_011L));
    members.put("flags", le32(DatapathMaps.CT_REVNAT));
    members.put("backend", le32(0));
    members.put("nat_addr", ip6("fd00:10:96::a"));
    members.put("orig_addr", ip6("fd00:10:244:1::5"));
    members.put("nat_port", be16(80));
    members.put("orig_port", be16(40001));
    var c =
        DatapathMaps.connection(
            DatapathMaps.connectionKey("fd00:10:244:2::9", 8080, "fd00:10:244:1::5", 40001, 6),
            encode("ct6_entry", members));
    assertThat(c.source()).isEqualTo("fd00:10:244:2::9");
    assertThat(c.translation())
        .isEqualTo(
            new DatapathMaps.Translation("reply", "fd00:10:96::a", 80, "fd00:10:244:1::5", 40001));
  }

  private static String ip6(String a) {
    return HexFormat.of().formatHex(IpAddress.parse(a).bytes());
  }

  /**
   * The other way round for the one struct the Java side only reads: a conntrack entry written
   * member by member at BTF's offsets reads back as the connection it describes.
   */
  @Test
  void theJavaDecoderReadsAConntrackEntryWhereTheStructHasIt() {
    Map<String, String> members = new LinkedHashMap<>();
    members.put("created_ns", le64(1_000_000_007L));
    members.put("last_seen_ns", le64(2_000_000_011L));
    members.put("flags", le32(DatapathMaps.CT_SVC | DatapathMaps.CT_STACK));
    members.put("backend", le32(7));
    members.put("nat_addr", ip("10.244.2.9"));
    members.put("orig_addr", ip("172.31.0.11"));
    members.put("nat_port", be16(8080));
    members.put("orig_port", be16(40001));
    var c =
        DatapathMaps.connection(
            DatapathMaps.connectionKey("10.244.1.5", 40000, "10.96.0.10", 80, 6),
            encode("ct_entry", members));
    assertThat(c.createdNanos()).isEqualTo(1_000_000_007L);
    assertThat(c.lastSeenNanos()).isEqualTo(2_000_000_011L);
    assertThat(c.throughStack()).isTrue();
    assertThat(c.translation())
        .isEqualTo(
            new DatapathMaps.Translation("service", "10.244.2.9", 8080, "172.31.0.11", 40001));
  }

  /** {@code bytes} read at each of {@code struct}'s members equals {@code want} (hex). */
  private static void assertLayout(String struct, byte[] bytes, Map<String, String> want) {
    Map<String, int[]> members = btf.members(struct);
    assertThat(bytes).as("sizeof(struct %s)", struct).hasSize(btf.structSize(struct));
    assertThat(want.keySet())
        .as("struct %s: every member but padding is checked", struct)
        .containsExactlyInAnyOrderElementsOf(
            members.keySet().stream().filter(m -> !m.startsWith("pad")).toList());
    want.forEach(
        (member, hex) -> {
          int[] at = members.get(member);
          assertThat(HexFormat.of().formatHex(bytes, at[0], at[0] + at[1]))
              .as("struct %s, member %s at offset %d", struct, member, at[0])
              .isEqualTo(hex);
        });
  }

  /** A struct's bytes with each of {@code members} (hex) at its BTF offset, zeros elsewhere. */
  private static byte[] encode(String struct, Map<String, String> members) {
    byte[] out = new byte[btf.structSize(struct)];
    Map<String, int[]> at = btf.members(struct);
    members.forEach(
        (member, hex) -> {
          byte[] b = HexFormat.of().parseHex(hex);
          assertThat(b).as("struct %s, member %s", struct, member).hasSize(at.get(member)[1]);
          System.arraycopy(b, 0, out, at.get(member)[0], b.length);
        });
    return out;
  }

  private static String le16(int v) {
    return hex(ByteBuffer.allocate(2).order(ByteOrder.LITTLE_ENDIAN).putShort((short) v));
  }

  private static String le32(int v) {
    return hex(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(v));
  }

  private static String le64(long v) {
    return hex(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v));
  }

  private static String be16(int v) {
    return hex(ByteBuffer.allocate(2).order(ByteOrder.BIG_ENDIAN).putShort((short) v));
  }

  /** An IPv4 address in network order, as the C side keeps addresses. */
  private static String ip(String address) {
    return hex(ByteBuffer.allocate(4).order(ByteOrder.BIG_ENDIAN).putInt(Ipv4.parse(address)));
  }

  private static String hex(ByteBuffer b) {
    return HexFormat.of().formatHex(b.array());
  }

  private static final Pattern DEFINE =
      Pattern.compile("#define (\\w+) (\\(?-?(0x[0-9a-fA-F]+|[0-9]+)[uUlL]*\\)?)$");

  private static Map<String, Long> integerDefines(String dump) {
    Map<String, Long> out = new HashMap<>();
    for (String line : dump.split("\n")) {
      Matcher m = DEFINE.matcher(line.strip());
      if (m.matches()) {
        // Values past a long (ULLONG_MAX and the like) are none the Java side shares.
        try {
          out.put(m.group(1), Long.decode(m.group(3)));
        } catch (NumberFormatException tooLarge) {
          continue;
        }
      }
    }
    return out;
  }

  /** An object's BTF, as {@code bpftool -j btf dump} prints it. */
  record Btf(JsonNode dump) {
    private Map<Integer, JsonNode> byId() {
      Map<Integer, JsonNode> out = new HashMap<>();
      dump.path("types").forEach(t -> out.put(t.path("id").asInt(), t));
      return out;
    }

    /** Bytes of the type {@code id}, through typedefs, qualifiers and arrays. */
    int size(int id) {
      JsonNode t = byId().get(id);
      return switch (t.path("kind").asText()) {
        case "TYPEDEF", "CONST", "VOLATILE", "RESTRICT" -> size(t.path("type_id").asInt());
        case "ARRAY" -> t.path("nr_elems").asInt() * size(t.path("type_id").asInt());
        default -> t.path("size").asInt();
      };
    }

    /** Each member of struct {@code name}: its byte offset and size, in declaration order. */
    Map<String, int[]> members(String name) {
      for (JsonNode t : dump.path("types")) {
        if (t.path("kind").asText().equals("STRUCT") && t.path("name").asText().equals(name)) {
          Map<String, int[]> out = new LinkedHashMap<>();
          t.path("members")
              .forEach(
                  m ->
                      out.put(
                          m.path("name").asText(),
                          new int[] {
                            m.path("bits_offset").asInt() / 8, size(m.path("type_id").asInt())
                          }));
          return out;
        }
      }
      throw new AssertionError("no struct " + name + " in the object's BTF");
    }

    int structSize(String name) {
      for (JsonNode t : dump.path("types")) {
        if (t.path("kind").asText().equals("STRUCT") && t.path("name").asText().equals(name)) {
          return t.path("size").asInt();
        }
      }
      throw new AssertionError("no struct " + name + " in the object's BTF");
    }

    /** Each map of the {@code .maps} section: its key and value sizes ({@code __type}). */
    Map<String, int[]> maps() {
      Map<Integer, JsonNode> types = byId();
      Map<String, int[]> out = new TreeMap<>();
      for (JsonNode sec : dump.path("types")) {
        if (!sec.path("kind").asText().equals("DATASEC")
            || !sec.path("name").asText().equals(".maps")) {
          continue;
        }
        for (JsonNode v : sec.path("vars")) {
          JsonNode var = types.get(v.path("type_id").asInt());
          JsonNode def = types.get(var.path("type_id").asInt());
          int[] sizes = {-1, -1};
          for (JsonNode m : def.path("members")) {
            int slot =
                switch (m.path("name").asText()) {
                  case "key" -> 0;
                  case "value" -> 1;
                  default -> -1;
                };
            if (slot >= 0) {
              JsonNode ptr = types.get(m.path("type_id").asInt());
              sizes[slot] = size(ptr.path("type_id").asInt());
            }
          }
          out.put(var.path("name").asText(), sizes);
        }
      }
      return out;
    }

    /** Global functions: the programs. */
    TreeSet<String> functions() {
      TreeSet<String> out = new TreeSet<>();
      dump.path("types")
          .forEach(
              t -> {
                if (t.path("kind").asText().equals("FUNC")
                    && t.path("linkage").asText().equals("global")) {
                  out.add(t.path("name").asText());
                }
              });
      return out;
    }
  }
}
