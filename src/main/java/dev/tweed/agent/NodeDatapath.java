package dev.tweed.agent;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tweed.calc.CalculationGraph;
import dev.tweed.datastore.Datastore;
import dev.tweed.observe.AgentMetrics;
import dev.tweed.observe.FlowRecorder;
import dev.tweed.proxy.ProxyNode;

/**
 * What carries a node's pod packets beyond routes: Services, NetworkPolicy, the drops and flows it
 * reports, its status and its drift checks. The agent holds one and branches on nothing; routes,
 * VXLAN and BIRD are drivers beside it, the same for both.
 *
 * <p>{@link StandardDatapath}: the kernel's netfilter (kube-proxy's iptables or nftables layout,
 * policy tables) with conntrack events and NFLOG for flows. {@link EbpfDatapath}: Tweed's tc
 * programs, their maps and ring buffer.
 */
sealed interface NodeDatapath extends AutoCloseable permits StandardDatapath, EbpfDatapath {
  /** How a sync went: what the agent reports as programmed, and whether it is timed. */
  enum Sync {
    /** Nothing to write: the kernel has what the inputs say. */
    UP_TO_DATE,
    /** Written, or compared with the kernel. */
    SYNCED,
    /** Not attempted: backing off after a failure; the inputs stay pending. */
    DEFERRED
  }

  /**
   * The datapath {@code config} names, reporting flows to {@code flows} and binding its own counts
   * (drops by reason, and what else it keeps) to {@code metrics}: the one place the agent's code
   * looks at which datapath it runs.
   */
  static NodeDatapath of(
      AgentConfig config, Datastore store, FlowRecorder flows, AgentMetrics metrics) {
    return switch (config.datapath()) {
      case STANDARD -> new StandardDatapath(config, flows, metrics);
      case EBPF -> new EbpfDatapath(config, store, flows, metrics);
    };
  }

  /** The names its two syncs have in {@code tweed_sync_duration_seconds}. */
  String servicesPart();

  String policyPart();

  /** Starts reporting flows to the agent's recorder; a datapath that cannot says why in status. */
  void startFlows();

  /**
   * Services: written when {@code changed}, or when a comparison with the kernel or a retry is due.
   * Throws when the write failed; the datapath retries on a later pass.
   */
  Sync syncServices(ProxyNode node, CalculationGraph graph, boolean changed);

  /** Service ports programmed by the last sync. */
  int servicePorts();

  /**
   * Policy (and, for eBPF, endpoints and identities): written when {@code changed}; on a {@code
   * periodic} pass also compared with the kernel when that is due.
   */
  Sync syncPolicy(CalculationGraph graph, boolean changed, boolean periodic);

  /** Adds what it shows of itself to the agent's health document. */
  void describe(ObjectNode health);

  /** Why it records no flows, or empty. */
  String flowsUnavailable();

  @Override
  void close();
}
