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
    int n = pods.size();
    List<List<Future<Boolean>>> futures = new ArrayList<>();
    try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
      for (Target from : pods) {
        List<Future<Boolean>> row = new ArrayList<>();
        for (Target to : pods) {
          row.add(
              pool.submit(
                  () ->
                      ProbeClient.probe(
                              NetworkNamespace.pathOf(from.netns()), to.ip(), port, proto, timeout)
                          .connected()));
        }
        futures.add(row);
      }
      List<List<Boolean>> matrix = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        List<Boolean> row = new ArrayList<>();
        for (int j = 0; j < n; j++) {
          row.add(futures.get(i).get(j).get());
        }
        matrix.add(row);
      }
      return new ReachabilityMatrix(pods.stream().map(Target::name).toList(), matrix);
    }
  }
}
