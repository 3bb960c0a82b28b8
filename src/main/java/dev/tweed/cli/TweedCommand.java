package dev.tweed.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code tweed} command; its subcommands are listed in {@link CommandTree}. */
@Command(
    name = "tweed",
    mixinStandardHelpOptions = true,
    // -h/--help (and -V) on every command, not only on tweed itself.
    scope = CommandLine.ScopeType.INHERIT,
    version = "tweed 0.1.0",
    description = "A Kubernetes pod network with a lab that runs it on one machine.")
public final class TweedCommand {
  public static void main(String[] args) {
    CommandLine cl = CommandTree.forArgs(args);
    cl.setExecutionExceptionHandler(
        (ex, commandLine, parseResult) -> {
          commandLine
              .getErr()
              .println("error: " + (ex.getMessage() == null ? ex.toString() : ex.getMessage()));
          if (System.getenv("TWEED_DEBUG") != null) {
            ex.printStackTrace(commandLine.getErr());
          }
          return 2;
        });
    System.exit(cl.execute(args));
  }
}
