package dev.tweed.ebpf;

import dev.tweed.sys.Command;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The datapath's object file: {@code bpf/tweed-datapath.bpf.c} and the headers it includes (shipped
 * in the jar, split as Cilium's bpf/ is: {@code lib/} by concern, the programs by attachment point)
 * compiled by clang for the BPF target against libbpf's headers. Built where it runs, never shipped
 * prebuilt; built again only when a source differs from what the existing object was built from.
 */
public final class DatapathObject {
  /** The resource directory that holds the sources. */
  public static final String SOURCE_DIR = "bpf";

  /** The compilation unit: every program, by attachment point. */
  public static final String SOURCE = "tweed-datapath.bpf.c";

  /** Every source file, relative to {@link #SOURCE_DIR} ({@code DatapathSourcesTest} checks it). */
  public static final List<String> SOURCES =
      List.of(
          SOURCE,
          "lxc.h",
          "remote.h",
          "lib/common.h",
          "lib/maps.h",
          "lib/packet.h",
          "lib/events.h",
          "lib/config.h",
          "lib/policy.h",
          "lib/nat.h",
          "lib/ipv4.h",
          "lib/ipv6.h",
          "lib/family.h",
          "lib/family_end.h",
          "lib/lookup.h",
          "lib/conntrack.h",
          "lib/deliver.h",
          "lib/lb.h",
          "lib/trace.h");

  public static final String OBJECT = "tweed-datapath.bpf.o";

  private DatapathObject() {}

  /** The sources as the jar holds them, by path relative to {@link #SOURCE_DIR}. */
  public static Map<String, byte[]> sources() {
    Map<String, byte[]> out = new LinkedHashMap<>();
    for (String name : SOURCES) {
      try (InputStream in =
          DatapathObject.class.getResourceAsStream("/" + SOURCE_DIR + "/" + name)) {
        if (in == null) {
          throw new IllegalStateException("the datapath source " + name + " is not in the jar");
        }
        out.put(name, in.readAllBytes());
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    return out;
  }

  /** Compiles the program into {@code dir} (if not already built from these sources); its path. */
  public static Path build(Path dir) {
    try {
      Files.createDirectories(dir);
      Map<String, byte[]> sources = sources();
      Path object = dir.resolve(OBJECT);
      // The sources the existing object was built from, kept beside it.
      Path built = dir.resolve(SOURCE_DIR);
      if (Files.exists(object) && sameSources(built, sources)) {
        return object;
      }
      Path src = dir.resolve("." + SOURCE_DIR);
      writeSources(src, sources);
      Path tmp = dir.resolve("." + OBJECT);
      Command.run(compile(src.resolve(SOURCE), tmp));
      Files.move(tmp, object, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      writeSources(built, sources);
      deleteTree(src);
      return object;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** clang and the flags every use of the sources takes: the BPF target, libbpf's headers. */
  public static List<String> clang() {
    return List.of(
        "clang",
        "-O2",
        "-g",
        "-Wall",
        "-Werror",
        "-target",
        "bpf",
        "-I/usr/include/" + multiarch());
  }

  /** clang's command line for the datapath: {@code source} into {@code object}. */
  public static List<String> compile(Path source, Path object) {
    List<String> argv = new ArrayList<>(clang());
    argv.addAll(List.of("-c", source.toString(), "-o", object.toString()));
    return argv;
  }

  /** Writes the sources under {@code dir}, as the jar lays them out. */
  public static void writeSources(Path dir, Map<String, byte[]> sources) throws IOException {
    for (var e : sources.entrySet()) {
      Path f = dir.resolve(e.getKey());
      Files.createDirectories(f.getParent());
      Files.write(f, e.getValue());
    }
  }

  private static boolean sameSources(Path dir, Map<String, byte[]> sources) throws IOException {
    for (var e : sources.entrySet()) {
      Path f = dir.resolve(e.getKey());
      if (!Files.exists(f) || !Arrays.equals(Files.readAllBytes(f), e.getValue())) {
        return false;
      }
    }
    return true;
  }

  private static void deleteTree(Path dir) throws IOException {
    try (Stream<Path> all = Files.walk(dir)) {
      for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
  }

  /** Debian's multiarch directory, where asm/ headers live (asm/types.h for linux/bpf.h). */
  private static String multiarch() {
    String arch = System.getProperty("os.arch");
    return switch (arch) {
      case "aarch64" -> "aarch64-linux-gnu";
      default -> "x86_64-linux-gnu";
    };
  }
}
