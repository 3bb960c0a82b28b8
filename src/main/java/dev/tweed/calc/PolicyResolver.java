package dev.tweed.calc;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.model.PodResource;
import dev.tweed.model.WorkloadEndpoint;
import dev.tweed.policy.IncrementalPolicyCalculator;
import dev.tweed.policy.NetworkPolicy;
import dev.tweed.policy.PolicyIntent;
import dev.tweed.policy.PolicyPod;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * Pods as policy sees them, and the node's policy intent kept current: a pod joined with the
 * workload endpoint the CNI plugin recorded for it (which carries its address first, and its host
 * interface when it is local), namespaces' labels, and policies, each handed to the incremental
 * policy calculator, whose label index decides which policies a change touches.
 */
final class PolicyResolver {
  private final String nodeName;
  private final IncrementalPolicyCalculator policy;
  private final Map<String, PodResource> pods = new HashMap<>();
  private final Map<String, WorkloadEndpoint> endpointsByKey = new HashMap<>();
  private final Map<String, WorkloadEndpoint> endpointsByPod = new HashMap<>();
  private final Map<String, Map<String, String>> namespaces = new HashMap<>();
  private final Map<String, PolicyPod> policyPods = new TreeMap<>();

  PolicyResolver(String nodeName) {
    this.nodeName = nodeName;
    this.policy = new IncrementalPolicyCalculator(nodeName);
  }

  /** A pod by its qualified name ({@code namespace/name}). */
  void pod(String qualifiedName, Optional<PodResource> pod) {
    pod.ifPresentOrElse(p -> pods.put(qualifiedName, p), () -> pods.remove(qualifiedName));
    refresh(qualifiedName);
  }

  /** A workload endpoint by its resource key: it names the pod it belongs to. */
  void endpoint(String key, Optional<WorkloadEndpoint> endpoint) {
    WorkloadEndpoint old = endpointsByKey.remove(key);
    if (old != null) {
      endpointsByPod.remove(old.pod());
      refresh(old.pod());
    }
    endpoint.ifPresent(
        w -> {
          endpointsByKey.put(key, w);
          endpointsByPod.put(w.pod(), w);
          refresh(w.pod());
        });
  }

  void namespace(String name, Optional<Map<String, String>> labels) {
    labels.ifPresentOrElse(l -> namespaces.put(name, l), () -> namespaces.remove(name));
    policy.namespace(name, labels);
  }

  void policy(String qualifiedName, Optional<NetworkPolicy> p) {
    policy.policy(qualifiedName, p);
  }

  private void refresh(String qualifiedName) {
    PodResource p = pods.get(qualifiedName);
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
            ep.map(WorkloadEndpoint::ips).orElse(p.podIps()),
            ep.map(WorkloadEndpoint::node).or(p::nodeName),
            p.ports().stream()
                .filter(c -> !c.name().isEmpty())
                .map(c -> new PolicyPod.NamedPort(c.name(), c.containerPort(), c.protocol()))
                .toList(),
            ep.filter(w -> w.node().equals(nodeName)).map(WorkloadEndpoint::hostInterface));
    policyPods.put(qualifiedName, pp);
    policy.pod(qualifiedName, Optional.of(pp));
  }

  static Map<String, String> labels(JsonNode n) {
    Map<String, String> out = new HashMap<>();
    n.properties().forEach(l -> out.put(l.getKey(), l.getValue().asText()));
    return out;
  }

  PolicyIntent intent() {
    return policy.intent();
  }

  List<PolicyPod> policyPods() {
    return List.copyOf(policyPods.values());
  }

  Map<String, Map<String, String>> namespaceLabels() {
    return Map.copyOf(namespaces);
  }
}
