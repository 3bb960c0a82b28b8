package dev.tweed.calc;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.datastore.ResourceUpdate;
import dev.tweed.model.BgpConfiguration;
import dev.tweed.model.IpamBlock;
import dev.tweed.model.Kinds;
import dev.tweed.model.NodeResource;
import dev.tweed.model.PodResource;
import dev.tweed.model.ResourceKey;
import dev.tweed.model.WorkloadEndpoint;
import dev.tweed.policy.IncrementalPolicyCalculator;
import dev.tweed.policy.InvalidPolicyException;
import dev.tweed.policy.NetworkPolicyParser;
import dev.tweed.policy.PolicyIntent;
import dev.tweed.policy.PolicyPod;
import dev.tweed.proxy.ServicePortIndex;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * One node's calculation graph, fed resource by resource. The dispatcher hands each update to the
 * calculators that care: nodes, blocks and endpoints to the routes (and BIRD's configuration);
 * services, slices and nodes to the service proxy; pods, endpoints, namespaces and policies to the
 * incremental policy calculator (its label index decides which policies a change touches);
 * identities to the eBPF datapath. {@link #apply} says which drivers have something new, so each
 * runs only when its inputs moved. Pure: no operating system, no clock.
 */
public final class CalculationGraph {
  private final String nodeName;
  private final TreeMap<String, NodeResource> nodes = new TreeMap<>();
  private final TreeMap<String, IpamBlock> blocks = new TreeMap<>();
  private final TreeMap<String, WorkloadEndpoint> endpoints = new TreeMap<>();
  private final Map<String, WorkloadEndpoint> endpointsByPod = new HashMap<>();
  private final TreeMap<String, PodResource> pods = new TreeMap<>();
  private final TreeMap<String, JsonNode> services = new TreeMap<>();
  private final TreeMap<String, JsonNode> slices = new TreeMap<>();
  private final ServicePortIndex servicePorts = new ServicePortIndex();
  private final TreeMap<String, JsonNode> identities = new TreeMap<>();
  private final Map<String, Map<String, String>> namespaces = new HashMap<>();
  private final Map<String, PolicyPod> policyPods = new TreeMap<>();
  private Optional<BgpConfiguration> bgp = Optional.empty();
  private final IncrementalPolicyCalculator policy;
  private ClusterState clusterState = new ClusterState(List.of(), List.of(), List.of());
  private boolean clusterStateStale;

  public CalculationGraph(String nodeName) {
    this.nodeName = nodeName;
    this.policy = new IncrementalPolicyCalculator(nodeName);
  }

  /** Which consumers a batch of updates gave new inputs, and the resources it refused. */
  public record Changes(
      boolean routes,
      boolean bgp,
      boolean services,
      boolean policy,
      boolean identities,
      List<String> rejected) {
    public boolean any() {
      return routes || bgp || services || policy || identities;
    }
  }

  public Changes apply(List<ResourceUpdate> updates) {
    boolean routes = false;
    boolean bgpChanged = false;
    boolean svc = false;
    boolean pol = false;
    boolean ids = false;
    List<String> rejected = new ArrayList<>();
    for (ResourceUpdate u : updates) {
      String kind = u.kind();
      try {
        switch (kind) {
          case NodeResource.KIND -> {
            put(nodes, u, NodeResource::from);
            routes = bgpChanged = svc = true;
          }
          case IpamBlock.KIND -> {
            put(blocks, u, IpamBlock::from);
            routes = bgpChanged = true;
          }
          case WorkloadEndpoint.KIND -> {
            WorkloadEndpoint old = endpoints.get(u.key());
            WorkloadEndpoint now = put(endpoints, u, WorkloadEndpoint::from);
            if (old != null) {
              endpointsByPod.remove(old.pod());
              refreshPolicyPod(old.pod());
            }
            if (now != null) {
              endpointsByPod.put(now.pod(), now);
              refreshPolicyPod(now.pod());
            }
            routes = pol = true;
          }
          case PodResource.KIND -> {
            PodResource old = pods.get(u.key());
            PodResource now = put(pods, u, PodResource::from);
            refreshPolicyPod((now != null ? now : old).qualifiedName());
            pol = true;
          }
          case Kinds.SERVICE -> {
            put(services, u, v -> v);
            ResourceKey k = ResourceKey.parse(u.key());
            servicePorts.service(k.namespace().orElse("default"), k.name(), u.value());
            svc = true;
          }
          case Kinds.ENDPOINT_SLICE -> {
            put(slices, u, v -> v);
            ResourceKey k = ResourceKey.parse(u.key());
            servicePorts.slice(k.namespace().orElse("default"), k.name(), u.value());
            svc = true;
          }
          case Kinds.NAMESPACE -> {
            String name = ResourceKey.parse(u.key()).name();
            Optional<Map<String, String>> labels =
                u.value().map(v -> labels(v.path("metadata").path("labels")));
            labels.ifPresentOrElse(l -> namespaces.put(name, l), () -> namespaces.remove(name));
            policy.namespace(name, labels);
            pol = true;
          }
          case Kinds.NETWORK_POLICY -> {
            String name = ResourceKey.parse(u.key()).qualifiedName();
            policy.policy(
                name,
                u.value().isEmpty()
                    ? Optional.empty()
                    : Optional.of(NetworkPolicyParser.parse(u.value().get())));
            pol = true;
          }
          case BgpConfiguration.KIND -> {
            bgp = u.value().map(BgpConfiguration::from);
            bgpChanged = true;
          }
          case Kinds.SECURITY_IDENTITY -> {
            put(identities, u, v -> v);
            ids = true;
          }
          default -> {}
        }
      } catch (InvalidPolicyException | IllegalArgumentException bad) {
        // An invalid object is skipped and reported; the rest of the node keeps working.
        rejected.add(u.key() + ": " + bad.getMessage());
        if (kind.equals(Kinds.NETWORK_POLICY)) {
          policy.policy(ResourceKey.parse(u.key()).qualifiedName(), Optional.empty());
        }
      }
    }
    clusterStateStale |= routes;
    return new Changes(routes, bgpChanged, svc, pol, ids, rejected);
  }

  private static <T> T put(TreeMap<String, T> into, ResourceUpdate u, Function<JsonNode, T> parse) {
    if (u.value().isEmpty()) {
      into.remove(u.key());
      return null;
    }
    T v = parse.apply(u.value().get());
    into.put(u.key(), v);
    return v;
  }

  /** A pod as policy sees it: the endpoint the CNI plugin recorded carries the address first. */
  private void refreshPolicyPod(String qualifiedName) {
    PodResource p = pods.get(ResourceKey.kindPrefix(PodResource.KIND) + qualifiedName);
    if (p == null) {
      policyPods.remove(qualifiedName);
      policy.pod(qualifiedName, Optional.empty());
      return;
    }
    Optional<WorkloadEndpoint> ep = Optional.ofNullable(endpointsByPod.get(qualifiedName));
    PolicyPod pp =
        new PolicyPod(
            p.namespace(),
            p.name(),
            labels(p.raw().path("metadata").path("labels")),
            ep.map(WorkloadEndpoint::ip).or(p::podIp),
            ep.map(WorkloadEndpoint::node).or(p::nodeName),
            p.ports().stream()
                .filter(c -> !c.name().isEmpty())
                .map(c -> new PolicyPod.NamedPort(c.name(), c.containerPort(), c.protocol()))
                .toList(),
            ep.filter(w -> w.node().equals(nodeName)).map(WorkloadEndpoint::hostInterface));
    policyPods.put(qualifiedName, pp);
    policy.pod(qualifiedName, Optional.of(pp));
  }

  private static Map<String, String> labels(JsonNode n) {
    Map<String, String> out = new HashMap<>();
    n.properties().forEach(l -> out.put(l.getKey(), l.getValue().asText()));
    return out;
  }

  /** Nodes, blocks and endpoints, rebuilt only after they changed. */
  public ClusterState clusterState() {
    if (clusterStateStale) {
      clusterState =
          new ClusterState(
              List.copyOf(nodes.values()),
              List.copyOf(blocks.values()),
              List.copyOf(endpoints.values()));
      clusterStateStale = false;
    }
    return clusterState;
  }

  public PolicyIntent policyIntent() {
    return policy.intent();
  }

  public List<PolicyPod> policyPods() {
    return List.copyOf(policyPods.values());
  }

  public Map<String, Map<String, String>> namespaceLabels() {
    return Map.copyOf(namespaces);
  }

  public List<JsonNode> services() {
    return List.copyOf(services.values());
  }

  /**
   * Service ports by Service, resolved incrementally: {@link ServicePortIndex#drainChanges} gives
   * those touched since its last call (one consumer drains it: the eBPF driver's sync).
   */
  public ServicePortIndex servicePorts() {
    return servicePorts;
  }

  public List<JsonNode> slices() {
    return List.copyOf(slices.values());
  }

  public List<JsonNode> identities() {
    return List.copyOf(identities.values());
  }

  public List<NodeResource> nodes() {
    return List.copyOf(nodes.values());
  }

  public BgpConfiguration bgp() {
    return bgp.orElse(BgpConfiguration.defaults());
  }
}
