package dev.tweed.lab;

import dev.tweed.sys.NetworkNamespace;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Probes every ordered pair of pods with real traffic, all pairs at once, so that a matrix costs
 * one timeout rather than one per blocked pair.
 */
public final class ReachabilityProbe {
  /** A pod to probe from and to. */
  public record Target(String name, String netns, String ip) {}

  private ReachabilityProbe() {}

  public static ReachabilityMatrix probe(
      List<Target> pods, int port, String proto, Duration timeout) throws Exception {
    return new ReachabilityMatrix(
        pods.stream().map(Target::name).toList(), grid(pods, pods, port, proto, timeout));
  }

  /** Whether each pod of {@code from} (rows) reaches each of {@code to} (columns), all at once. */
  public static List<List<Boolean>> grid(
      List<Target> from, List<Target> to, int port, String proto, Duration timeout)
      throws Exception {
    List<List<Future<Boolean>>> futures = new ArrayList<>();
    try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
      for (Target f : from) {
        List<Future<Boolean>> row = new ArrayList<>();
        for (Target t : to) {
          row.add(
              pool.submit(
                  () ->
                      ProbeClient.probe(
                              NetworkNamespace.pathOf(f.netns()), t.ip(), port, proto, timeout)
                          .connected()));
        }
        futures.add(row);
      }
      List<List<Boolean>> matrix = new ArrayList<>();
      for (List<Future<Boolean>> row : futures) {
        List<Boolean> r = new ArrayList<>();
        for (Future<Boolean> f : row) {
          r.add(f.get());
        }
        matrix.add(r);
      }
      return matrix;
    }
  }
}
