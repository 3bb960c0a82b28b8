package dev.tweed.lab;

import dev.tweed.sys.Command;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * The lab's own bpffs: one mount under the lab's directory, where each node's agent pins its maps
 * ({@code bpf/NODE/tw_*}). Unmounting it at {@code lab down} releases every pin; the programs go
 * with the node namespaces whose devices run them.
 */
public final class LabBpf {
  private LabBpf() {}

  public static Path dir(LabLayout layout) {
    return layout.dir().resolve("bpf");
  }

  public static Path pinDir(LabLayout layout, String node) {
    return dir(layout).resolve(node);
  }

  public static void mount(LabLayout layout) {
    Path dir = dir(layout);
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    if (!mounted(dir)) {
      Command.run(List.of("mount", "-t", "bpf", "tweed-" + layout.name(), dir.toString()));
    }
  }

  public static void unmount(LabLayout layout) {
    Path dir = dir(layout);
    if (mounted(dir)) {
      Command.exec(List.of("umount", dir.toString()), "", Map.of());
    }
  }

  static boolean mounted(Path dir) {
    try {
      String target = " " + dir.toAbsolutePath() + " ";
      return Files.readAllLines(Path.of("/proc/self/mountinfo")).stream()
          .anyMatch(l -> l.contains(target) && l.contains(" - bpf "));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
