package dev.tweed.lab;

import dev.tweed.sys.Command;
import dev.tweed.sys.CommandFailedException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Named network namespaces through {@code ip netns}. */
public final class Namespaces {
  private Namespaces() {}

  public static List<String> list() {
    List<String> out = new ArrayList<>();
    for (String line : Command.run(List.of("ip", "netns", "list")).split("\n")) {
      if (!line.isBlank()) {
        out.add(line.strip().split("\\s+")[0]);
      }
    }
    return out;
  }

  public static void add(String name) {
    Command.run(List.of("ip", "netns", "add", name));
  }

  public static void delete(String name) {
    Command.Result r = Command.exec(List.of("ip", "netns", "del", name), "", Map.of());
    if (!r.ok() && !r.stderr().contains("No such file")) {
      throw new CommandFailedException(
          List.of("ip", "netns", "del", name), "", r.exitCode(), r.stderr());
    }
  }

  /** Runs {@code ip -batch} inside a named namespace. */
  public static void batch(String ns, List<String> lines) {
    Command.run(List.of("ip", "-n", ns, "-batch", "-"), String.join("\n", lines) + "\n");
  }

  public static void sysctl(String ns, String key, String value) {
    Command.run(List.of("ip", "netns", "exec", ns, "sysctl", "-qw", key + "=" + value));
  }
}
