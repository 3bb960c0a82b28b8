package dev.tweed.sys;

import java.util.List;

/** A kernel or system command that exited non-zero; carries the command, its input and stderr. */
public final class CommandFailedException extends RuntimeException {
  private final List<String> command;
  private final String input;
  private final String stderr;
  private final int exitCode;

  public CommandFailedException(List<String> command, String input, int exitCode, String stderr) {
    super(
        "command failed (exit "
            + exitCode
            + "): "
            + String.join(" ", command)
            + (input.isEmpty() ? "" : " <<< " + excerpt(input))
            + ": "
            + stderr.strip());
    this.command = List.copyOf(command);
    this.input = input;
    this.stderr = stderr;
    this.exitCode = exitCode;
  }

  /** At most a few hundred characters of the input: a 40 MB restore must not become a log line. */
  static String excerpt(String input) {
    String flat = input.strip().replace("\n", " ; ");
    int lines = input.split("\n", -1).length;
    return flat.length() <= 300 ? flat : flat.substring(0, 300) + " ... (" + lines + " lines)";
  }

  public List<String> command() {
    return command;
  }

  public String input() {
    return input;
  }

  public String stderr() {
    return stderr;
  }

  public int exitCode() {
    return exitCode;
  }
}
