package dev.tweed.observe;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.Unit;
import java.util.Map;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * One agent's metrics, named as kube-proxy and felix name theirs where one exists ({@code
 * sync_proxy_rules_duration_seconds} becomes {@code tweed_sync_duration_seconds} with a {@code
 * part} label). Values the agent already keeps (repairs, drops counted by the datapath, BGP
 * sessions) are read when Prometheus scrapes, not copied on every change.
 */
public final class AgentMetrics {
  private final PrometheusRegistry registry = new PrometheusRegistry();
  private final Histogram syncDuration;
  private final Gauge programmed;
  private final Histogram cniDuration;
  private final Counter cniErrors;
  private final Gauge datastoreReachable;

  public AgentMetrics() {
    syncDuration =
        Histogram.builder()
            .name("tweed_sync_duration_seconds")
            .help(
                "How long one sync of a dataplane part took (routes, proxy, policy, services, maps,"
                    + " bird), changes and drift checks alike")
            .unit(Unit.SECONDS)
            .labelNames("part")
            // 1 ms to 16 s, as kube-proxy's sync histogram spans.
            .classicExponentialUpperBounds(0.001, 2, 15)
            .register(registry);
    programmed =
        Gauge.builder()
            .name("tweed_programmed_objects")
            .help(
                "Objects the agent last programmed, by kind (routes, service ports, map entries...)")
            .labelNames("kind")
            .register(registry);
    cniDuration =
        Histogram.builder()
            .name("tweed_cni_operation_duration_seconds")
            .help("CNI calls served by the agent, by command, from request to answer")
            .unit(Unit.SECONDS)
            .labelNames("command")
            .classicExponentialUpperBounds(0.0005, 2, 14)
            .register(registry);
    cniErrors =
        Counter.builder()
            .name("tweed_cni_errors_total")
            .help("CNI calls answered with an error, by command and CNI error code")
            .labelNames("command", "code")
            .register(registry);
    datastoreReachable =
        Gauge.builder()
            .name("tweed_datastore_reachable")
            .help("1 when the datastore answered the agent's last check, else 0")
            .register(registry);
  }

  public PrometheusRegistry registry() {
    return registry;
  }

  /** Times one sync of a dataplane part. */
  public void synced(String part, long nanos) {
    syncDuration.labelValues(part).observe(nanos / 1e9);
  }

  public void programmed(String kind, long count) {
    programmed.labelValues(kind).set(count);
  }

  /** One CNI call: its command, how long it took, and its CNI error code (0 when it succeeded). */
  public void cniCall(String command, long nanos, int errorCode) {
    cniDuration.labelValues(command).observe(nanos / 1e9);
    if (errorCode != 0) {
      cniErrors.labelValues(command, String.valueOf(errorCode)).inc();
    }
  }

  public void datastoreReachable(boolean up) {
    datastoreReachable.set(up ? 1 : 0);
  }

  /** A counter the agent keeps itself, read at each scrape. */
  public void counter(String name, String help, LongSupplier value) {
    CounterWithCallback.builder()
        .name(name)
        .help(help)
        .callback(cb -> cb.call(value.getAsLong()))
        .register(registry);
  }

  /** A gauge the agent keeps itself, read at each scrape. */
  public void gauge(String name, String help, LongSupplier value) {
    GaugeWithCallback.builder()
        .name(name)
        .help(help)
        .callback(cb -> cb.call(value.getAsLong()))
        .register(registry);
  }

  /** Counters by one label, read at each scrape (drops by reason, from the datapath's own). */
  public void counters(String name, String help, String label, Supplier<Map<String, Long>> values) {
    CounterWithCallback.builder()
        .name(name)
        .help(help)
        .labelNames(label)
        .callback(cb -> values.get().forEach((k, v) -> cb.call(v, k)))
        .register(registry);
  }

  /** Gauges by one label, read at each scrape (BGP sessions by state). */
  public void gauges(String name, String help, String label, Supplier<Map<String, Long>> values) {
    GaugeWithCallback.builder()
        .name(name)
        .help(help)
        .labelNames(label)
        .callback(cb -> values.get().forEach((k, v) -> cb.call(v, k)))
        .register(registry);
  }
}
