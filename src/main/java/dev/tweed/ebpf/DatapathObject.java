package dev.tweed.ebpf;

import dev.tweed.sys.Command;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import java.util.List;

/**
 * The datapath's object file: {@code tweed-datapath.bpf.c} (shipped in the jar) compiled by clang
 * for the BPF target against libbpf's headers. Built where it runs, never shipped prebuilt; built
 * again only when the source differs from what the existing object was built from.
 */
public final class DatapathObject {
  public static final String SOURCE = "tweed-datapath.bpf.c";
  public static final String OBJECT = "tweed-datapath.bpf.o";

  private DatapathObject() {}

  /** Compiles the program into {@code dir} (if not already built from this source); its path. */
  public static Path build(Path dir) {
    try {
      Files.createDirectories(dir);
      byte[] source;
      try (InputStream in = DatapathObject.class.getResourceAsStream("/" + SOURCE)) {
        source = in.readAllBytes();
      }
      Path object = dir.resolve(OBJECT);
      Path built = dir.resolve(SOURCE);
      if (Files.exists(object)
          && Files.exists(built)
          && Arrays.equals(Files.readAllBytes(built), source)) {
        return object;
      }
      Path src = dir.resolve("." + SOURCE);
      Files.write(src, source);
      Path tmp = dir.resolve("." + OBJECT);
      Command.run(
          List.of(
              "clang",
              "-O2",
              "-g",
              "-Wall",
              "-Werror",
              "-target",
              "bpf",
              "-I/usr/include/" + multiarch(),
              "-c",
              src.toString(),
              "-o",
              tmp.toString()));
      Files.move(tmp, object, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      Files.move(src, built, StandardCopyOption.REPLACE_EXISTING);
      return object;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
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
