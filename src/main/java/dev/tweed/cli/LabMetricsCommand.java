package dev.tweed.cli;

import dev.tweed.lab.Lab;
import dev.tweed.lab.LabMetrics;
import java.util.concurrent.Callable;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code tweed lab metrics NODE} and {@code tweed lab metrics --query PROMQL}. */
@picocli.CommandLine.Command(
    name = "metrics",
    description =
        "A node's agent metrics as Prometheus scrapes them, or (with --query) the answer of the"
            + " lab's Prometheus (lab up --monitoring) to a PromQL query, as its HTTP API gives it.")
final class LabMetricsCommand implements Callable<Integer> {
  @Mixin LabOption lab;

  @Parameters(index = "0", arity = "0..1", paramLabel = "NODE")
  String node;

  @Option(names = "--query", paramLabel = "PROMQL", description = "An instant query.")
  String query;

  @Override
  public Integer call() {
    Lab l = LabCommand.requireLab(lab);
    LabMetrics metrics = new LabMetrics(l.layout());
    if (query != null) {
      System.out.println(metrics.query(query));
      return 0;
    }
    if (node == null) {
      System.err.println("say which NODE's metrics, or --query PROMQL");
      return 2;
    }
    System.out.print(metrics.scrape(node));
    return 0;
  }
}
