package dev.tweed.lab.chaos;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tweed.model.Json;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * What a soak saw, with each lost probe put down to the fault it happened under (or to none), the
 * targets applied (no probe lost under any fault but a link flap; under a flap, only probes that
 * depend on the flapped node, and only until its allowance ends), and the invariants.
 */
public record ChaosReport(
    String lab,
    long seed,
    double seconds,
    Map<String, String> setup,
    int paths,
    long probesSent,
    List<Fault> faults,
    List<KindStats> kinds,
    List<Attributed> lost,
    int podsCreated,
    int podStepsSkipped,
    List<Invariants.Check> invariants,
    boolean dropsReported,
    long startNanos) {
  /**
   * A lost probe, the fault it is put down to, whether the targets allow it, and what the datapath
   * reported dropping near it (empty where it reports no drops: see {@code dropsReported}).
   */
  public record Attributed(
      ProbeMesh.Failure failure, Optional<Fault> fault, boolean allowed, List<String> drops) {
    public Attributed {
      drops = List.copyOf(drops);
    }

    Attributed withDrops(List<String> near) {
      return new Attributed(failure, fault, allowed, near);
    }
  }

  /** Per fault kind: how many, probes sent and lost under them, and the times. */
  public record KindStats(
      String kind,
      int injected,
      long probesSent,
      long probesLost,
      long lostBeyondTarget,
      double downSecondsMax,
      double recoverSecondsMean,
      double recoverSecondsMax) {}

  public long lostOutsideFaults() {
    return lost.stream().filter(a -> a.fault().isEmpty()).count();
  }

  public boolean passed() {
    return lost.stream().allMatch(Attributed::allowed)
        && invariants.stream().allMatch(Invariants.Check::holds);
  }

  private double at(long nanos) {
    return (nanos - startNanos) / 1e9;
  }

  public ObjectNode toJson() {
    ObjectNode o = Json.object();
    o.put("lab", lab).put("seed", seed).put("seconds", round(seconds));
    ObjectNode s = o.putObject("setup");
    setup.forEach(s::put);
    o.put("paths", paths).put("probesSent", probesSent).put("probesLost", lost.size());
    o.put("lostOutsideFaults", lostOutsideFaults());
    // Whether the datapath reports its drops (eBPF): only then does a lost probe without
    // "datapathDrops" mean that the datapath dropped nothing of it.
    o.put("datapathDropsReported", dropsReported);
    ArrayNode k = o.putArray("faults");
    for (KindStats x : kinds) {
      k.addObject()
          .put("kind", x.kind())
          .put("injected", x.injected())
          .put("probesSent", x.probesSent())
          .put("probesLost", x.probesLost())
          .put("lostBeyondTarget", x.lostBeyondTarget())
          .put("downSecondsMax", round(x.downSecondsMax()))
          .put("recoverSecondsMean", round(x.recoverSecondsMean()))
          .put("recoverSecondsMax", round(x.recoverSecondsMax()));
    }
    ArrayNode ev = o.putArray("events");
    for (Fault f : faults) {
      ev.addObject()
          .put("kind", f.kind().flag())
          .put("target", f.target())
          .put("atSeconds", round(at(f.injectedNanos())))
          .put("downSeconds", round(f.downSeconds()))
          .put("recoverSeconds", round(f.recoverSeconds()));
    }
    ArrayNode l = o.putArray("lost");
    for (Attributed a : lost) {
      ObjectNode x = l.addObject();
      x.put("path", a.failure().path().label())
          .put("atSeconds", round(at(a.failure().startNanos())))
          .put("reason", a.failure().reason())
          .put("fault", a.fault().map(f -> f.kind().flag() + " " + f.target()).orElse(""))
          .put("allowed", a.allowed());
      if (dropsReported) {
        ArrayNode d = x.putArray("datapathDrops");
        a.drops().forEach(d::add);
      }
    }
    o.putObject("pods").put("created", podsCreated).put("stepsSkipped", podStepsSkipped);
    ArrayNode inv = o.putArray("invariants");
    for (Invariants.Check c : invariants) {
      ObjectNode x = inv.addObject().put("name", c.name()).put("holds", c.holds());
      c.problems().forEach(x.putArray("problems")::add);
    }
    o.put("passed", passed());
    return o;
  }

  public String render() {
    StringBuilder b = new StringBuilder();
    b.append(
        String.format(
            Locale.ROOT,
            "chaos on lab %s (seed %d, %.0f s, %s): %d paths, %d probes, %d lost%n",
            lab,
            seed,
            seconds,
            String.join(", ", setup.values()),
            paths,
            probesSent,
            lost.size()));
    b.append(
        String.format(
            Locale.ROOT,
            "%-13s %8s %8s %6s %13s %8s %13s%n",
            "FAULT",
            "INJECTED",
            "PROBES",
            "LOST",
            "BEYOND-TARGET",
            "DOWN-MAX",
            "RECOVER-MEAN/MAX"));
    for (KindStats x : kinds) {
      b.append(
          String.format(
              Locale.ROOT,
              "%-13s %8d %8d %6d %13d %7.1fs %7.2fs/%.2fs%n",
              x.kind(),
              x.injected(),
              x.probesSent(),
              x.probesLost(),
              x.lostBeyondTarget(),
              x.downSecondsMax(),
              x.recoverSecondsMean(),
              x.recoverSecondsMax()));
    }
    b.append(String.format(Locale.ROOT, "lost outside any fault: %d%n", lostOutsideFaults()));
    lost.stream()
        .filter(a -> !a.allowed())
        .limit(20)
        .forEach(
            a -> {
              b.append(
                  String.format(
                      Locale.ROOT,
                      "  lost at %.1fs: %s (%s)%s%n",
                      at(a.failure().startNanos()),
                      a.failure().path().label(),
                      a.failure().reason(),
                      a.fault()
                          .map(f -> " under " + f.kind().flag() + " " + f.target())
                          .orElse("")));
              if (dropsReported && a.drops().isEmpty()) {
                b.append("    the datapath reported no drop from or to its client near it\n");
              }
              a.drops().stream().limit(5).forEach(d -> b.append("    ").append(d).append('\n'));
            });
    b.append(
        String.format(
            Locale.ROOT,
            "pods created and deleted meanwhile: %d (%d steps skipped while the store was away)%n",
            podsCreated,
            podStepsSkipped));
    for (Invariants.Check c : invariants) {
      b.append(c.holds() ? "ok      " : "BROKEN  ").append(c.name()).append('\n');
      c.problems().stream().limit(10).forEach(p -> b.append("          ").append(p).append('\n'));
    }
    b.append(passed() ? "PASSED" : "FAILED").append('\n');
    return b.toString();
  }

  private static double round(double v) {
    return Math.round(v * 1000) / 1000.0;
  }
}
