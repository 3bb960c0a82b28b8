package dev.tweed.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code tweed} command. */
@Command(
    name = "tweed",
    mixinStandardHelpOptions = true,
    version = "tweed 0.1.0",
    description = "A Kubernetes pod network with a lab that runs it on one machine.",
    subcommands = {
      DemoCommand.class,
      LabCommand.class,
      AgentCommand.class,
      HealthCommand.class,
      CniInstallCommand.class,
      CniShimCommand.class,
      LabControllerCommand.class,
      BenchCommand.class,
      ProxyCommand.class,
      TraceCommand.class,
      CaptureCommand.class,
      CommandLine.HelpCommand.class
    })
public final class TweedCommand {
  public static void main(String[] args) {
    CommandLine cl = new CommandLine(new TweedCommand());
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
