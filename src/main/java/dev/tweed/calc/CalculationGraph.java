package dev.tweed.calc;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.datastore.ResourceUpdate;
import dev.tweed.model.BgpConfiguration;
import dev.tweed.model.EndpointSliceResource;
import dev.tweed.model.IpFamily;
import dev.tweed.model.IpamBlock;
import dev.tweed.model.Kinds;
import dev.tweed.model.NodeDataplane;
import dev.tweed.model.NodeResource;
import dev.tweed.model.PodResource;
import dev.tweed.model.ResourceKey;
import dev.tweed.model.ServiceResource;
import dev.tweed.model.WorkloadEndpoint;
import dev.tweed.policy.InvalidPolicyException;
import dev.tweed.policy.NetworkPolicyParser;
import dev.tweed.policy.PolicyIntent;
import dev.tweed.policy.PolicyPod;
import dev.tweed.proxy.ServicePortIndex;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * One node's calculation graph, fed resource update by resource update (felix's shape): a
 * dispatcher hands each update to the calculators registered for its kind, each keeps only what it
 * reads and says which of its outputs moved; {@link #apply} answers which drivers have new inputs,
 * so each runs only when those moved. Pure: no operating system, no clock.
 *
 * <p>The wiring, in one place:
 *
 * <pre>
 *   Node ───────────────┬─► RouteResolver     ─► routes, VXLAN device, neighbours, FDB
 *   IPAMBlock ──────────┤                        (a node's share recomputed, not the whole)
 *   WorkloadEndpoint ───┼─► ClusterInputs     ─► nodes, blocks, endpoints whole: BIRD, eBPF
 *                       └─► PolicyResolver    ─► pods joined with their endpoints ─┐
 *   Pod, Namespace, NetworkPolicy ─► PolicyResolver ─► label index ─► policy intent ◄┘
 *   Service, EndpointSlice ─► ServicePortIndex ─► service ports (only the Services touched)
 *   BGPConfiguration ─► BIRD;  SecurityIdentity ─► eBPF identities
 * </pre>
 */
public final class CalculationGraph {
  private final Dispatcher dispatcher = new Dispatcher();
  private final RouteResolver routes;
  private final ClusterInputs cluster = new ClusterInputs();
  private final PolicyResolver policy;

  /** One per family of the cluster, in the order IPv4, IPv6: each feeds its family's proxier. */
  private final Map<IpFamily, ServicePortIndex> servicePorts = new TreeMap<>();

  private final TreeMap<String, JsonNode> identities = new TreeMap<>();
  private Optional<BgpConfiguration> bgp = Optional.empty();

  /** A node routed by a VXLAN overlay, with the standard datapath. */
  public CalculationGraph(String nodeName) {
    this(nodeName, true, false);
  }

  /**
   * @param overlay false with BGP: remote blocks are BIRD's routes, not the graph's
   * @param external the eBPF datapath's collect-metadata VXLAN device (see {@link RouteResolver})
   */
  public CalculationGraph(String nodeName, boolean overlay, boolean external) {
    this(nodeName, overlay, external, Set.of(IpFamily.IPV4));
  }

  /**
   * @param families the cluster's pod families (a tunnel and routes for each)
   */
  public CalculationGraph(
      String nodeName, boolean overlay, boolean external, Set<IpFamily> families) {
    this.routes = new RouteResolver(nodeName, overlay, external, families);
    for (IpFamily f : families) {
      servicePorts.put(f, new ServicePortIndex(f));
    }
    this.policy = new PolicyResolver(nodeName);
    // Nodes: routes (a remote node's VTEP), BIRD's peers, the proxy's node addresses.
    dispatcher.on(
        NodeResource.KIND,
        (u, c) -> {
          Optional<NodeResource> n = u.value().map(NodeResource::from);
          String name = ResourceKey.parse(u.key()).name();
          routes.node(name, n);
          cluster.node(u.key(), n);
          c.routes = c.bgp = c.services = true;
        });
    // Blocks: routes to remote pods, BIRD's announcements.
    dispatcher.on(
        IpamBlock.KIND,
        (u, c) -> {
          Optional<IpamBlock> b = u.value().map(IpamBlock::from);
          routes.block(u.key(), b);
          cluster.block(u.key(), b);
          c.routes = c.bgp = true;
        });
    // Endpoints: a local pod's route, and the address and interface policy judges a pod by.
    dispatcher.on(
        WorkloadEndpoint.KIND,
        (u, c) -> {
          Optional<WorkloadEndpoint> w = u.value().map(WorkloadEndpoint::from);
          routes.endpoint(u.key(), w);
          cluster.endpoint(u.key(), w);
          policy.endpoint(u.key(), w);
          c.routes = c.policy = true;
        });
    dispatcher.on(
        PodResource.KIND,
        (u, c) -> {
          policy.pod(ResourceKey.parse(u.key()).qualifiedName(), u.value().map(PodResource::from));
          c.policy = true;
        });
    dispatcher.on(
        Kinds.NAMESPACE,
        (u, c) -> {
          policy.namespace(
              ResourceKey.parse(u.key()).name(),
              u.value().map(v -> PolicyResolver.labels(v.path("metadata").path("labels"))));
          c.policy = true;
        });
    dispatcher.on(
        Kinds.NETWORK_POLICY,
        (u, c) -> {
          String name = ResourceKey.parse(u.key()).qualifiedName();
          c.policy = true;
          try {
            policy.policy(
                name,
                u.value().isEmpty()
                    ? Optional.empty()
                    : Optional.of(NetworkPolicyParser.parse(u.value().get())));
          } catch (InvalidPolicyException bad) {
            // An invalid policy is no policy: the rest of the node keeps working.
            policy.policy(name, Optional.empty());
            throw new IllegalArgumentException(bad.getMessage(), bad);
          }
        });
    dispatcher.on(
        ServiceResource.KIND,
        (u, c) -> {
          ResourceKey k = ResourceKey.parse(u.key());
          Optional<ServiceResource> svc = u.value().map(ServiceResource::from);
          servicePorts
              .values()
              .forEach(i -> i.service(k.namespace().orElse("default"), k.name(), svc));
          c.services = true;
        });
    dispatcher.on(
        EndpointSliceResource.KIND,
        (u, c) -> {
          ResourceKey k = ResourceKey.parse(u.key());
          Optional<EndpointSliceResource> slice = u.value().map(EndpointSliceResource::from);
          servicePorts
              .values()
              .forEach(i -> i.slice(k.namespace().orElse("default"), k.name(), slice));
          c.services = true;
        });
    dispatcher.on(
        BgpConfiguration.KIND,
        (u, c) -> {
          bgp = u.value().map(BgpConfiguration::from);
          c.bgp = true;
        });
    dispatcher.on(
        Kinds.SECURITY_IDENTITY,
        (u, c) -> {
          u.value()
              .ifPresentOrElse(v -> identities.put(u.key(), v), () -> identities.remove(u.key()));
          c.identities = true;
        });
  }

  /** Which consumers a batch of updates gave new inputs, and the resources it refused. */
  public record Changes(
      boolean routes,
      boolean bgp,
      boolean services,
      boolean policy,
      boolean identities,
      List<String> rejected) {
    public Changes {
      rejected = List.copyOf(rejected);
    }
  }

  public Changes apply(List<ResourceUpdate> updates) {
    ChangeSet changes = new ChangeSet();
    for (ResourceUpdate u : updates) {
      try {
        dispatcher.dispatch(u, changes);
      } catch (IllegalArgumentException bad) {
        // An invalid object is skipped and reported; the rest of the node keeps working.
        changes.rejected.add(u.key() + ": " + bad.getMessage());
      }
    }
    return changes.done();
  }

  /** The node's routes, VXLAN device, neighbours and FDB entries. */
  public NodeDataplane routes() {
    return routes.dataplane();
  }

  /** Nodes, blocks and endpoints whole, rebuilt only after they changed. */
  public ClusterState clusterState() {
    return cluster.state();
  }

  public PolicyIntent policyIntent() {
    return policy.intent();
  }

  public List<PolicyPod> policyPods() {
    return policy.policyPods();
  }

  public Map<String, Map<String, String>> namespaceLabels() {
    return policy.namespaceLabels();
  }

  /**
   * Service ports by Service, resolved incrementally: {@link ServicePortIndex#drainChanges} gives
   * those touched since its last call (the eBPF datapath's), {@link ServicePortIndex#ports} every
   * port, resolving only what changed (the proxy's).
   */
  public ServicePortIndex servicePorts() {
    return servicePorts.values().iterator().next();
  }

  /** The service ports of one family of the cluster. */
  public ServicePortIndex servicePorts(IpFamily family) {
    ServicePortIndex i = servicePorts.get(family);
    if (i == null) {
      throw new IllegalArgumentException("the cluster has no " + family.apiName());
    }
    return i;
  }

  public List<JsonNode> identities() {
    return List.copyOf(identities.values());
  }

  /** The node named {@code name}, if the datastore has it. */
  public Optional<NodeResource> node(String name) {
    return cluster.node(ResourceKey.cluster(NodeResource.KIND, name).toString());
  }

  public BgpConfiguration bgp() {
    return bgp.orElse(BgpConfiguration.defaults());
  }
}
