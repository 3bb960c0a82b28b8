package dev.tweed.cli;

import picocli.CommandLine.Option;

/** {@code -o/--output}: text for people (a table, one line per flow), or JSON for scripts. */
public final class OutputOption {
  @Option(
      names = {"-o", "--output"},
      defaultValue = "text",
      paramLabel = "FORMAT",
      description = "text | json")
  String format;

  /** Whether JSON was asked for; any word other than text (or compact) or json is refused. */
  public boolean json() {
    return switch (format) {
      case "json" -> true;
      case "text", "compact" -> false;
      default ->
          throw new IllegalArgumentException("-o must be text or json, got '" + format + "'");
    };
  }
}
