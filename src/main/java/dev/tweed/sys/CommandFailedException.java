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
            + (input.isEmpty() ? "" : " <<< " + input.strip().replace("\n", " ; "))
            + ": "
            + stderr.strip());
    this.command = List.copyOf(command);
    this.input = input;
    this.stderr = stderr;
    this.exitCode = exitCode;
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
