package dev.tweed.observe;

import java.nio.file.Path;
import java.util.Map;
import java.util.OptionalLong;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * Binds the values an agent and its drivers keep to the agent's metrics, read when Prometheus
 * scrapes. Each part of the agent binds what it has: the loop its passes and repairs, each datapath
 * its drops (and the eBPF one its programs' counts), BIRD its sessions.
 */
public final class AgentMetricsBinding {
  private AgentMetricsBinding() {}

  /** The reconcile loop's own counts, the syncer's re-lists (where it knows them) and the flows. */
  public static void agent(
      AgentMetrics m,
      LongSupplier reconciles,
      LongSupplier repairs,
      Supplier<OptionalLong> relists,
      FlowRecorder flows) {
    m.counter("tweed_reconciles", "Reconcile passes of the agent", reconciles);
    m.counter(
        "tweed_dataplane_repairs",
        "Route, link, neighbour and FDB changes made to bring the kernel back to the intent",
        repairs);
    if (relists.get().isPresent()) {
      m.counter(
          "tweed_datastore_relists",
          "Times the agent listed the datastore again (a watch that broke, an outage)",
          () -> relists.get().orElse(0));
    }
    m.counters(
        "tweed_flows",
        "Flows the datapath reported: connections let through, packets dropped or refused",
        "verdict",
        flows::byVerdict);
    m.counter(
        "tweed_flows_overwritten",
        "Flows dropped from the agent's ring of recent flows to make room for newer ones",
        flows::overwritten);
  }

  /** Packets the datapath dropped, by reason. */
  public static void drops(AgentMetrics m, Supplier<Map<String, Long>> byReason) {
    m.counters(
        "tweed_drops",
        "Packets dropped by Tweed's datapath, by reason (the programs' counts, or the counters of"
            + " Tweed's netfilter drop rules)",
        "reason",
        byReason);
  }

  /** What only the eBPF datapath counts: its own forwarding, lost events and its conntrack map. */
  public interface EbpfCounters {
    long forwarded();

    long eventsLost();

    long conntrackEntries();

    long conntrackCollected();
  }

  public static void ebpf(AgentMetrics m, EbpfCounters c) {
    m.counter(
        "tweed_forwarded_packets", "Packets the eBPF programs forwarded themselves", c::forwarded);
    m.counter(
        "tweed_flow_events_lost",
        "Flow events the programs could not report: their ring buffer was full",
        c::eventsLost);
    m.gauge(
        "tweed_conntrack_entries",
        "Connections in the eBPF datapath's conntrack map after the collector's last pass",
        c::conntrackEntries);
    m.counter(
        "tweed_conntrack_collected",
        "Conntrack entries of ended or idle connections the collector removed",
        c::conntrackCollected);
  }

  /** The sessions of the node's BIRD, asked through its control socket. */
  public static void bgp(AgentMetrics m, Path birdControl) {
    m.gauges(
        "tweed_bgp_sessions",
        "BGP sessions of this node's BIRD, by state",
        "state",
        () -> BgpSessions.read(birdControl));
  }
}
