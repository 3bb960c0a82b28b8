package dev.tweed.cli;

import dev.tweed.cni.AgentClient;
import dev.tweed.model.Json;
import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Asks a running agent for its health: what a DaemonSet's liveness and readiness probes run. */
@Command(
    name = "health",
    description =
        "Print the agent's health; exit 1 if it does not answer (or, with --ready, is not ready).")
public final class HealthCommand implements Callable<Integer> {
  @Option(
      names = "--socket",
      defaultValue = "/run/tweed/agent.sock",
      description = "The agent's socket (default: ${DEFAULT-VALUE}).")
  Path socket;

  @Option(names = "--ready", description = "Fail unless the agent reports itself ready.")
  boolean ready;

  @Override
  public Integer call() {
    String health;
    try {
      health = AgentClient.health(socket);
    } catch (IOException e) {
      System.err.println(
          "tweed health: agent at " + socket + " does not answer: " + e.getMessage());
      return 1;
    }
    System.out.println(health.strip());
    if (ready && !Json.parse(health).path("ready").asBoolean(false)) {
      System.err.println("tweed health: agent not ready");
      return 1;
    }
    return 0;
  }
}
