package dev.tweed.bench;

import java.util.List;

/** Order statistics of a sample of latencies in milliseconds. */
public record Stats(int n, double median, double p99, double min, double max) {
  public static Stats of(List<Double> samples) {
    double[] s = samples.stream().mapToDouble(Double::doubleValue).sorted().toArray();
    if (s.length == 0) {
      return new Stats(0, Double.NaN, Double.NaN, Double.NaN, Double.NaN);
    }
    return new Stats(s.length, quantile(s, 0.5), quantile(s, 0.99), s[0], s[s.length - 1]);
  }

  /** Nearest-rank quantile, as latency reports usually mean it. */
  static double quantile(double[] sorted, double q) {
    int rank = (int) Math.ceil(q * sorted.length);
    return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))];
  }

  @Override
  public String toString() {
    return String.format(
        "median %.1f ms, p99 %.1f ms (min %.1f, max %.1f, n=%d)", median, p99, min, max, n);
  }
}
