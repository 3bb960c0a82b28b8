package dev.tweed.agent;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tweed.calc.CalculationGraph;
import dev.tweed.calc.ClusterState;
import dev.tweed.dataplane.RulesetGeneration;
import dev.tweed.model.Cidr;
import dev.tweed.model.IpFamily;
import dev.tweed.model.ProxyMode;
import dev.tweed.observe.AgentMetrics;
import dev.tweed.observe.AgentMetricsBinding;
import dev.tweed.observe.ConntrackFlows;
import dev.tweed.observe.FlowRecorder;
import dev.tweed.observe.NetfilterDrops;
import dev.tweed.observe.NflogDrops;
import dev.tweed.policy.PolicyIntent;
import dev.tweed.proxy.ProxyNode;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The kernel's own datapath: Services as kube-proxy writes them (iptables or nftables), policy as
 * tables and sets of the same mode, flows from conntrack events and drops from NFLOG.
 */
final class StandardDatapath implements NodeDatapath {
  private static final Logger LOG = LoggerFactory.getLogger(StandardDatapath.class);
  private final String nodeName;
  private final ProxyMode mode;

  /**
   * kube-proxy's meta-proxier: a proxier per family of the cluster, each writing its family's
   * tables from the Services that have a clusterIP of it and the slices of its address type.
   */
  private final Map<IpFamily, ServiceProxySync> proxies = new TreeMap<>();

  private final AgentConfig config;

  private final Optional<NatOutgoingSync> natOutgoing;

  /** One per family of the cluster: kube-proxy's and felix's layout, a table set per family. */
  private final List<PolicySync<?>> policies;

  private final FlowRecorder flows;
  private final AgentMetrics metrics;
  private Optional<ConntrackFlows> conntrackFlows = Optional.empty();
  private Optional<NflogDrops> nflogDrops = Optional.empty();
  private volatile String flowsUnavailable = "";

  /** Addresses of this node's pods (a flow's direction is relative to them). */
  private volatile Set<String> localPods = Set.of();

  /** The cluster state they were taken from: the graph hands out a new one only after a change. */
  private ClusterState localPodsFrom;

  StandardDatapath(AgentConfig config, FlowRecorder flows, AgentMetrics metrics) {
    this.nodeName = config.nodeName();
    this.mode = config.proxyMode();
    // One generation for both writers: each notes its own transactions, so neither takes the
    // other's for someone else's.
    RulesetGeneration generation = new RulesetGeneration();
    this.config = config;
    for (Cidr range : config.serviceCidrs().cidrs()) {
      proxies.put(range.family(), new ServiceProxySync(mode, range.toString(), generation));
    }
    this.policies =
        config.clusterCidrs().families().stream()
            .<PolicySync<?>>map(f -> PolicySync.here(mode, f, generation))
            .toList();
    this.natOutgoing =
        config.natOutgoing()
            ? Optional.of(new NatOutgoingSync(mode, config.clusterCidrs()))
            : Optional.empty();
    this.flows = flows;
    this.metrics = metrics;
    AgentMetricsBinding.drops(metrics, () -> NetfilterDrops.read(mode));
  }

  @Override
  public String servicesPart() {
    return "proxy";
  }

  @Override
  public String policyPart() {
    return "policy";
  }

  @Override
  public void startFlows() {
    // Observation must not keep a node from networking: without conntrack, no flows, said so.
    try {
      conntrackFlows = Optional.of(new ConntrackFlows(ip -> localPods.contains(ip), flows::record));
    } catch (RuntimeException e) {
      flowsUnavailable = e.getMessage();
      LOG.warn("event=flows-unavailable error=\"{}\"", e.getMessage());
    }
    try {
      nflogDrops = Optional.of(new NflogDrops(flows::record));
    } catch (RuntimeException e) {
      LOG.warn("event=drop-flows-unavailable error=\"{}\"", e.getMessage());
    }
  }

  @Override
  public Sync syncServices(ProxyNode node, CalculationGraph graph, boolean changed) {
    // NAT-outgoing shares the nat table and the proxy's cadence of comparing with the kernel.
    boolean fullDue = proxies.values().stream().anyMatch(ServiceProxySync::fullSyncDue);
    natOutgoing.ifPresent(n -> n.sync(fullDue));
    if (!changed && proxies.values().stream().noneMatch(p -> p.fullSyncDue() || p.retryPending())) {
      return Sync.UP_TO_DATE;
    }
    for (var e : proxies.entrySet()) {
      IpFamily family = e.getKey();
      Optional<Cidr> pods = config.clusterCidrs().of(family);
      if (pods.isEmpty()) {
        continue; // a Service range without pods of its family: nothing to proxy to
      }
      ProxyNode ofFamily =
          new ProxyNode(
              node.nodeName(),
              pods.get().toString(),
              node.nodeIps().stream().filter(ip -> IpFamily.of(ip) == family).toList());
      e.getValue()
          .sync(
              ofFamily,
              graph.servicePorts(family),
              changes -> flows.services(changes, ofFamily.nodeIps()));
    }
    metrics.programmed("service_ports", servicePorts());
    return Sync.SYNCED;
  }

  @Override
  public int servicePorts() {
    return proxies.values().stream().mapToInt(ServiceProxySync::servicePorts).sum();
  }

  @Override
  public Sync syncPolicy(CalculationGraph graph, boolean changed, boolean periodic) {
    ClusterState state = graph.clusterState();
    if (state != localPodsFrom) {
      localPodsFrom = state;
      localPods =
          state.endpoints().stream()
              .filter(w -> w.node().equals(nodeName))
              .flatMap(w -> w.ips().stream())
              .collect(Collectors.toUnmodifiableSet());
    }
    if (!changed && policies.stream().noneMatch(p -> p.fullSyncDue() || p.retryPending())) {
      return Sync.UP_TO_DATE;
    }
    // While backing off after a failure nothing is written, so the revision must not advance:
    // it is what the lab waits on before it probes.
    if (policies.stream().anyMatch(p -> !p.mayRun())) {
      return Sync.DEFERRED;
    }
    for (PolicySync<?> policy : policies) {
      policy.sync(graph::policyIntent, changed);
    }
    PolicyIntent intent = graph.policyIntent();
    metrics.programmed("policy_endpoints", intent.endpoints().size());
    metrics.programmed("policy_address_sets", intent.sets().size());
    return Sync.SYNCED;
  }

  @Override
  public void describe(ObjectNode health) {}

  @Override
  public String flowsUnavailable() {
    return flowsUnavailable;
  }

  @Override
  public void close() {
    nflogDrops.ifPresent(NflogDrops::close);
    conntrackFlows.ifPresent(ConntrackFlows::close);
  }
}
