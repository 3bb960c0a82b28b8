package dev.tweed.dataplane;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.model.Json;
import dev.tweed.sys.Command;
import dev.tweed.sys.CommandFailedException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * iproute2 in the current network namespace, or in the one at {@code netnsPath} through nsenter:
 * JSON reads, and batches that apply many changes in one process.
 */
public final class IpTool {
  private final List<String> prefix;

  private IpTool(List<String> prefix) {
    this.prefix = List.copyOf(prefix);
  }

  /** The namespace this process runs in. */
  public static IpTool here() {
    return new IpTool(List.of());
  }

  /** The namespace at a path (as CNI_NETNS gives it). */
  public static IpTool in(String netnsPath) {
    return new IpTool(List.of("nsenter", "--net=" + netnsPath));
  }

  public JsonNode json(String tool, String... args) {
    List<String> argv = argv(tool);
    argv.add("-j");
    argv.addAll(List.of(args));
    String out = Command.run(argv);
    return out.isBlank() ? Json.MAPPER.createArrayNode() : Json.parse(out);
  }

  /** Runs all lines or fails on the first error, reporting the command and its input. */
  public void batch(String tool, List<String> lines) {
    if (lines.isEmpty()) {
      return;
    }
    List<String> argv = argv(tool);
    argv.addAll(List.of("-batch", "-"));
    Command.run(argv, String.join("\n", lines) + "\n");
  }

  /** Runs every line even when some fail, returning the failure if any. */
  public Optional<CommandFailedException> batchForce(String tool, List<String> lines) {
    if (lines.isEmpty()) {
      return Optional.empty();
    }
    List<String> argv = argv(tool);
    argv.addAll(List.of("-force", "-batch", "-"));
    String input = String.join("\n", lines) + "\n";
    Command.Result r = Command.exec(argv, input, Map.of());
    return r.ok()
        ? Optional.empty()
        : Optional.of(new CommandFailedException(argv, input, r.exitCode(), r.stderr()));
  }

  public void run(String tool, String... args) {
    List<String> argv = argv(tool);
    argv.addAll(List.of(args));
    Command.run(argv);
  }

  private List<String> argv(String tool) {
    List<String> argv = new ArrayList<>(prefix);
    argv.add(tool);
    return argv;
  }
}
