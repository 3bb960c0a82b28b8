package dev.tweed.cli;

import dev.tweed.lab.Lab;
import dev.tweed.lab.LabState;
import dev.tweed.lab.chaos.ChaosReport;
import dev.tweed.lab.chaos.ChaosRun;
import dev.tweed.lab.chaos.FaultKind;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code tweed lab chaos}: a random fault soak under continuous probes, then its invariants. */
@Command(
    name = "chaos",
    description =
        "Probe every pair of pods and every Service continuously while injecting faults at random"
            + " (each undone and recovered from), pods created and deleted meanwhile; report lost"
            + " probes and recovery times by fault, check the invariants. Exit 0 only if nothing was"
            + " lost beyond the targets and every invariant holds.")
final class LabChaosCommand implements Callable<Integer> {
  @Mixin LabOption lab;

  @Option(
      names = "--duration",
      required = true,
      description = "How long to inject faults: 90s, 10m (faults keep coming until it is over).")
  String duration;

  @Option(names = "--seed", description = "Seed of the random faults, targets and timings.")
  Long seed;

  @Option(
      names = "--faults",
      split = ",",
      description =
          "Which faults (default: all this lab can have): agent-kill, bird-kill (BGP labs),"
              + " etcd-kill, link-flap, store-outage (etcd labs).")
  List<String> faults;

  @Option(
      names = "--probe-timeout",
      defaultValue = "3s",
      description = "How long a probe may take before it counts as lost (default 3s).")
  String probeTimeout;

  @Mixin OutputOption output;

  @Override
  public Integer call() throws Exception {
    boolean json = output.json();
    // With -o json, stdout carries the report only: progress goes to stderr.
    Lab l = new Lab(LabCommand.requireLab(lab).layout(), json ? System.err : System.out);
    LabState state = LabState.read(l.layout()).orElseThrow();
    List<FaultKind> kinds =
        faults == null
            ? FaultKind.availableIn(state)
            : faults.stream().map(String::strip).map(FaultKind::parse).toList();
    long s = seed != null ? seed : System.nanoTime() % 1_000_000;
    var options =
        new ChaosRun.Options(
            parse(duration), s, kinds, Duration.ofMillis(100), parse(probeTimeout));
    ChaosReport report = new ChaosRun(l, options, json ? System.err : System.out).run();
    if (json) {
      System.out.println(report.toJson().toPrettyString());
    } else {
      System.out.print(report.render());
    }
    return report.passed() ? 0 : 1;
  }

  /** {@code 90s}, {@code 10m}, {@code 1h} or {@code 500ms}. */
  static Duration parse(String text) {
    String t = text.strip().toLowerCase(Locale.ROOT);
    try {
      if (t.endsWith("ms")) {
        return Duration.ofMillis(Long.parseLong(t.substring(0, t.length() - 2)));
      }
      long n = Long.parseLong(t.substring(0, t.length() - 1));
      return switch (t.charAt(t.length() - 1)) {
        case 's' -> Duration.ofSeconds(n);
        case 'm' -> Duration.ofMinutes(n);
        case 'h' -> Duration.ofHours(n);
        default -> throw new NumberFormatException();
      };
    } catch (NumberFormatException | StringIndexOutOfBoundsException e) {
      throw new IllegalArgumentException(
          "not a duration: " + text + " (say 90s, 10m, 1h or 500ms)");
    }
  }
}
