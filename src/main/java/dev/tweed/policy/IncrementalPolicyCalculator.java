package dev.tweed.policy;

import dev.tweed.policy.PolicyIntent.AddressSet;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * {@link PolicyCalculator}'s result kept current by updates, as felix's calculation graph keeps its
 * own: a label index (which policies select each pod) and, per policy, what its compiled form
 * depends on. A pod's update is matched against every policy's selectors once (old and new labels)
 * and recompiles only the policies whose selections or peers it is in; a policy's update recompiles
 * that policy. {@link #intent()} then gives exactly what {@link PolicyCalculator#calculate} would
 * for the same resources (the property tests hold it to that).
 */
public final class IncrementalPolicyCalculator {
  private final String nodeName;
  private final TreeMap<String, PolicyPod> pods = new TreeMap<>();
  private final Map<String, Map<String, String>> rawNamespaces = new HashMap<>();
  private Map<String, Map<String, String>> nsLabels = new HashMap<>();
  private final TreeMap<String, NetworkPolicy> policies = new TreeMap<>();
  private final Map<String, NetworkPolicy> byName = new HashMap<>();
  private static final TreeSet<String> EMPTY = new TreeSet<>();

  /** The label index: for each pod, the policies whose podSelector picks it. */
  private final Map<String, TreeSet<String>> selecting = new HashMap<>();

  /** Compiled policies still valid; a missing one is compiled when next asked for. */
  private final Map<String, PolicyCalculator.Compiled> compiled = new HashMap<>();

  /** Policies whose result depends on every pod (egress named ports to any address). */
  private final Set<String> dependOnAllPods = new HashSet<>();

  private final Set<String> changedPolicies = new HashSet<>();

  /**
   * The intent as last assembled, until a pod, namespace or policy changes (null: to assemble): the
   * agent asks for it several times a pass (policy writer, metrics, flow naming), and at 1,000 pods
   * and 1,000 policies assembling it is not free.
   */
  private PolicyIntent intent;

  public IncrementalPolicyCalculator(String nodeName) {
    this.nodeName = nodeName;
  }

  /** Adds, changes or (with an empty value) removes a pod. */
  public void pod(String qualifiedName, Optional<PolicyPod> pod) {
    PolicyPod old = pods.get(qualifiedName);
    PolicyPod now = pod.orElse(null);
    if (Objects.equals(old, now)) {
      return;
    }
    intent = null;
    if (now == null) {
      pods.remove(qualifiedName);
    } else {
      pods.put(qualifiedName, now);
    }
    TreeSet<String> selectedBy = new TreeSet<>();
    for (NetworkPolicy p : policies.values()) {
      boolean affects = dependOnAllPods.contains(p.qualifiedName());
      if (now != null && PolicyCalculator.selects(p, now)) {
        selectedBy.add(p.qualifiedName());
        affects = true;
      }
      affects = affects || (old != null && PolicyCalculator.selects(p, old));
      affects = affects || inPeers(p, old) || inPeers(p, now);
      if (affects) {
        invalidate(p.qualifiedName());
      }
    }
    if (now == null) {
      selecting.remove(qualifiedName);
    } else {
      selecting.put(qualifiedName, selectedBy);
    }
  }

  /** Adds, changes or (with an empty value) removes a namespace's labels. */
  public void namespace(String name, Optional<Map<String, String>> labels) {
    Map<String, String> old = rawNamespaces.get(name);
    if (Objects.equals(old, labels.orElse(null))) {
      return;
    }
    intent = null;
    labels.ifPresentOrElse(
        l -> rawNamespaces.put(name, Map.copyOf(l)), () -> rawNamespaces.remove(name));
    nsLabels = PolicyCalculator.withNameLabels(rawNamespaces);
    // Only peers with a namespace selector look at namespaces' labels.
    for (NetworkPolicy p : policies.values()) {
      if (hasNamespaceSelector(p)) {
        invalidate(p.qualifiedName());
      }
    }
  }

  /** Adds, changes or (with an empty value) removes a policy. */
  public void policy(String qualifiedName, Optional<NetworkPolicy> policy) {
    NetworkPolicy old = policies.get(qualifiedName);
    if (Objects.equals(old, policy.orElse(null))) {
      return;
    }
    intent = null;
    invalidate(qualifiedName);
    dependOnAllPods.remove(qualifiedName);
    if (policy.isEmpty()) {
      policies.remove(qualifiedName);
      byName.remove(qualifiedName);
      selecting.values().forEach(s -> s.remove(qualifiedName));
      return;
    }
    NetworkPolicy p = policy.get();
    policies.put(qualifiedName, p);
    byName.put(qualifiedName, p);
    if (egressNamedPortToAnyone(p)) {
      dependOnAllPods.add(qualifiedName);
    }
    for (PolicyPod pod : pods.values()) {
      TreeSet<String> s = selecting.computeIfAbsent(pod.qualifiedName(), k -> new TreeSet<>());
      if (PolicyCalculator.selects(p, pod)) {
        s.add(qualifiedName);
      } else {
        s.remove(qualifiedName);
      }
    }
  }

  private void invalidate(String policy) {
    compiled.remove(policy);
    changedPolicies.add(policy);
  }

  /** The policies recompiled or removed since the last call (and forgets them). */
  public Set<String> takeChangedPolicies() {
    Set<String> out = Set.copyOf(changedPolicies);
    changedPolicies.clear();
    return out;
  }

  private boolean inPeers(NetworkPolicy p, PolicyPod pod) {
    if (pod == null) {
      return false;
    }
    for (List<NetworkPolicy.Rule> rules :
        List.of(p.ingress().orElse(List.of()), p.egress().orElse(List.of()))) {
      for (NetworkPolicy.Rule r : rules) {
        for (NetworkPolicy.Peer peer : r.peers()) {
          if (peer instanceof NetworkPolicy.PodPeer pp
              && PolicyCalculator.peerSelects(p, pp, pod, nsLabels)) {
            return true;
          }
        }
      }
    }
    return false;
  }

  private static boolean hasNamespaceSelector(NetworkPolicy p) {
    for (List<NetworkPolicy.Rule> rules :
        List.of(p.ingress().orElse(List.of()), p.egress().orElse(List.of()))) {
      for (NetworkPolicy.Rule r : rules) {
        for (NetworkPolicy.Peer peer : r.peers()) {
          if (peer instanceof NetworkPolicy.PodPeer pp && pp.namespaceSelector().isPresent()) {
            return true;
          }
        }
      }
    }
    return false;
  }

  /** An egress rule with a named port and a peer that is not a pod selector (or no peer). */
  private static boolean egressNamedPortToAnyone(NetworkPolicy p) {
    for (NetworkPolicy.Rule r : p.egress().orElse(List.of())) {
      boolean named = r.ports().stream().anyMatch(x -> x.named().isPresent());
      boolean anyone =
          r.peers().isEmpty()
              || r.peers().stream().anyMatch(x -> !(x instanceof NetworkPolicy.PodPeer));
      if (named && anyone) {
        return true;
      }
    }
    return false;
  }

  /** The node's policy intent for the resources as they stand. */
  public PolicyIntent intent() {
    if (intent == null) {
      intent = assemble();
    }
    return intent;
  }

  private PolicyIntent assemble() {
    List<PolicyPod> addressed = new ArrayList<>();
    List<PolicyPod> local = new ArrayList<>();
    for (PolicyPod p : pods.values()) {
      if (p.ip().isPresent()) {
        addressed.add(p);
        if (p.node().equals(Optional.of(nodeName)) && p.hostInterface().isPresent()) {
          local.add(p);
        }
      }
    }
    List<PolicyIntent.Endpoint> endpoints = new ArrayList<>();
    Set<String> usedSet = new HashSet<>();
    for (PolicyPod pod : local) {
      List<String> in = new ArrayList<>();
      List<String> out = new ArrayList<>();
      for (String name : selecting.getOrDefault(pod.qualifiedName(), EMPTY)) {
        NetworkPolicy p = byName.get(name);
        if (p.ingress().isPresent()) {
          in.add(name);
          usedSet.add(name);
        }
        if (p.egress().isPresent()) {
          out.add(name);
          usedSet.add(name);
        }
      }
      endpoints.add(PolicyCalculator.endpoint(pod, in, out));
    }
    List<String> used = new ArrayList<>(usedSet);
    Collections.sort(used);
    List<PolicyIntent.CompiledPolicy> out = new ArrayList<>();
    List<AddressSet> sets = new ArrayList<>();
    for (String name : used) {
      PolicyCalculator.Compiled c =
          compiled.computeIfAbsent(
              name, n -> PolicyCalculator.compile(byName.get(n), addressed, local, nsLabels));
      out.add(c.policy());
      sets.addAll(c.sets().values());
    }
    // Set names are unique (each begins with its policy's id): sorting gives the calculator's
    // order.
    sets.sort(Comparator.comparing(AddressSet::name));
    return new PolicyIntent(endpoints, out, sets);
  }
}
