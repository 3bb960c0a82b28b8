package dev.tweed.ebpf;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.model.Json;
import dev.tweed.sys.Command;
import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
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
 * Java side declares as {@code <STRUCT>_SIZE}. Needs clang and bpftool (the test command installs
 * them), no root.
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
