package dev.tweed.ebpf;

import dev.tweed.proxy.PortPolicy;
import dev.tweed.proxy.ProxyNode;
import dev.tweed.proxy.ServicePort;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Service ports to the load-balancing maps' contents for one node, as kube-proxy's traffic policies
 * decide ({@link PortPolicy}). It remembers the ids it gave out and the slot each backend holds, so
 * that a backend joining or leaving moves no other backend: the change is a few map writes whatever
 * the size of the cluster. An unchanged port (equal as a record) is not calculated again.
 */
public final class ServiceLbCalculator {
  private final ProxyNode node;
  private final Map<String, Calculated> byKey = new LinkedHashMap<>();
  private final Map<String, Set<String>> portKeysByService = new HashMap<>();
  private final Map<String, LbService> current = new LinkedHashMap<>();
  private final TreeSet<Integer> freeServiceIds = new TreeSet<>();
  private int nextServiceId = 1;
  private final TreeSet<Integer> freeBackendIds = new TreeSet<>();
  private int nextBackendId = 1;

  private record Calculated(ServicePort port, LbService service) {}

  /**
   * Ids a previous agent left in the pinned maps, not claimed yet: service ids by ClusterIP
   * frontend ("ip:port/protocol"), backend ids by service id and "ip:port".
   */
  private final Map<String, Integer> adoptedServiceIds = new HashMap<>();

  private final Map<Integer, Map<String, Integer>> adoptedBackendIds = new HashMap<>();

  /** By service id, then scope (external or not): its backends ({@code ip:port}) by slot. */
  private final Map<Integer, Map<Boolean, List<String>>> adoptedSlots = new HashMap<>();

  /**
   * Takes what a previous agent wrote (its frontends, backends and slots, read from the pinned
   * maps), so that the same Services and backends get the same numbers and slots again: a restarted
   * agent then rewrites nothing, and the connections and affinities that name a backend by its id
   * keep it. Ids that no Service claims by the next full calculation are given out again.
   */
  public void adopt(LbMaps.Contents pinned) {
    List<LbMaps.FrontendEntry> frontends = pinned.frontends();
    List<LbMaps.BackendEntry> backends = pinned.backends();
    Map<Integer, String> backendById = new HashMap<>();
    backends.forEach(b -> backendById.put(b.id(), b.ip() + ":" + b.port()));
    // Slot 0 is the scope's header (its count); slots 1.. name a backend each.
    Map<Integer, Map<Boolean, TreeMap<Integer, String>>> bySlot = new HashMap<>();
    for (LbMaps.ServiceEntry e : pinned.slots()) {
      String backend = backendById.get(e.countOrBackend());
      if (e.slot() > 0 && backend != null) {
        bySlot
            .computeIfAbsent(e.service(), k -> new HashMap<>())
            .computeIfAbsent(e.external(), k -> new TreeMap<>())
            .put(e.slot(), backend);
      }
    }
    bySlot.forEach(
        (service, scopes) -> {
          Map<Boolean, List<String>> ordered = new HashMap<>();
          scopes.forEach((external, slots) -> ordered.put(external, List.copyOf(slots.values())));
          adoptedSlots.put(service, ordered);
        });
    int maxService = 0;
    int maxBackend = 0;
    Set<Integer> taken = new HashSet<>();
    for (LbMaps.FrontendEntry f : frontends) {
      if (!f.external()) {
        adoptedServiceIds.put(f.ip() + ":" + f.port() + "/" + f.protocol(), f.service());
        taken.add(f.service());
        maxService = Math.max(maxService, f.service());
      }
    }
    Set<Integer> takenBackends = new HashSet<>();
    for (LbMaps.BackendEntry b : backends) {
      adoptedBackendIds
          .computeIfAbsent(b.service(), k -> new HashMap<>())
          .put(b.ip() + ":" + b.port(), b.id());
      takenBackends.add(b.id());
      maxBackend = Math.max(maxBackend, b.id());
    }
    for (int i = nextServiceId; i <= maxService; i++) {
      if (!taken.contains(i)) {
        freeServiceIds.add(i);
      }
    }
    freeServiceIds.removeAll(taken);
    nextServiceId = Math.max(nextServiceId, maxService + 1);
    for (int i = nextBackendId; i <= maxBackend; i++) {
      if (!takenBackends.contains(i)) {
        freeBackendIds.add(i);
      }
    }
    freeBackendIds.removeAll(takenBackends);
    nextBackendId = Math.max(nextBackendId, maxBackend + 1);
  }

  /** Ids adopted and not claimed by any Service are free again. */
  private void releaseUnclaimed() {
    freeServiceIds.addAll(adoptedServiceIds.values());
    adoptedServiceIds.clear();
    adoptedBackendIds.values().forEach(m -> freeBackendIds.addAll(m.values()));
    adoptedBackendIds.clear();
    adoptedSlots.clear();
  }

  public ServiceLbCalculator(ProxyNode node) {
    this.node = node;
  }

  /**
   * The services of {@code ports} (SCTP ports are left out: this kernel has no SCTP), by key, in
   * place of whatever was calculated before: a snapshot, unlike {@link #services}.
   */
  public Map<String, LbService> calculate(List<ServicePort> ports) {
    Map<String, List<ServicePort>> byService = new LinkedHashMap<>();
    for (ServicePort p : ports) {
      byService.computeIfAbsent(p.namespace() + "/" + p.name(), k -> new ArrayList<>()).add(p);
    }
    for (String gone : new ArrayList<>(portKeysByService.keySet())) {
      byService.putIfAbsent(gone, List.of());
    }
    update(byService);
    releaseUnclaimed();
    return new LinkedHashMap<>(current);
  }

  /** Every service calculated, by key (a view, kept up to date). */
  public Map<String, LbService> services() {
    return Collections.unmodifiableMap(current);
  }

  /**
   * Takes the ports of the Services that changed ({@code namespace/name} to all of its ports, an
   * empty list for one that is gone) and returns the services that differ as a result: the new one,
   * or empty for one removed. An unchanged port (equal as a record) is not recalculated.
   */
  public Map<String, Optional<LbService>> update(Map<String, List<ServicePort>> byService) {
    Map<String, Optional<LbService>> out = new LinkedHashMap<>();
    byService.forEach(
        (service, ports) -> {
          Set<String> keys = new LinkedHashSet<>();
          for (ServicePort p : ports) {
            if (!p.protocol().equals("TCP") && !p.protocol().equals("UDP")) {
              continue;
            }
            String key = p.portNameString() + "/" + p.protocol();
            keys.add(key);
            Calculated before = byKey.get(key);
            if (before != null && before.port().equals(p)) {
              continue;
            }
            LbService s = calculate(key, p, Optional.ofNullable(before));
            byKey.put(key, new Calculated(p, s));
            current.put(key, s);
            out.put(key, Optional.of(s));
          }
          for (String key : portKeysByService.getOrDefault(service, Set.of())) {
            if (!keys.contains(key)) {
              release(byKey.remove(key).service());
              current.remove(key);
              out.put(key, Optional.empty());
            }
          }
          if (keys.isEmpty()) {
            portKeysByService.remove(service);
          } else {
            portKeysByService.put(service, keys);
          }
        });
    return out;
  }

  private LbService calculate(String key, ServicePort p, Optional<Calculated> before) {
    int proto0 = LbService.protocolNumber(p.protocol());
    int id =
        before
            .map(b -> b.service().id())
            .or(
                () ->
                    Optional.ofNullable(
                        adoptedServiceIds.remove(p.clusterIp() + ":" + p.port() + "/" + proto0)))
            .orElseGet(this::serviceId);
    PortPolicy policy = PortPolicy.of(p, node.nodeName());
    int proto = LbService.protocolNumber(p.protocol());
    List<LbService.Frontend> frontends = new ArrayList<>();
    frontends.add(new LbService.Frontend(p.clusterIp(), p.port(), proto, false, false, false));
    boolean masquerade = !p.externalPolicyLocal();
    if (p.nodePort() != 0) {
      for (String ip : node.nodeIps()) {
        frontends.add(new LbService.Frontend(ip, p.nodePort(), proto, true, masquerade, false));
      }
    }
    for (String ip : p.externalIps()) {
      frontends.add(new LbService.Frontend(ip, p.port(), proto, true, masquerade, false));
    }
    boolean ranges = !p.loadBalancerSourceRanges().isEmpty();
    for (String ip : p.loadBalancerIps()) {
      frontends.add(new LbService.Frontend(ip, p.port(), proto, true, masquerade, ranges));
    }
    Optional<LbService.Scope> oldInternal = before.map(b -> b.service().internal());
    Optional<LbService.Scope> oldExternal = before.flatMap(b -> b.service().external());
    // Backend ids belong to the service: the same endpoint keeps its id in both scopes.
    Map<String, Integer> ids = new HashMap<>();
    Map<Boolean, List<String>> adopted = Map.of();
    if (before.isEmpty()) {
      ids.putAll(adoptedBackendIds.getOrDefault(id, Map.of()));
      adoptedBackendIds.remove(id);
      adopted = Optional.ofNullable(adoptedSlots.remove(id)).orElse(Map.of());
    }
    before.ifPresent(
        b -> {
          b.service().internal().backends().forEach(x -> ids.put(x.ip() + ":" + x.port(), x.id()));
          b.service()
              .external()
              .ifPresent(s -> s.backends().forEach(x -> ids.put(x.ip() + ":" + x.port(), x.id())));
        });
    Map<String, Integer> used = new HashMap<>();
    LbService.Scope internal =
        scope(
            p.internalPolicyLocal() ? policy.local() : p.endpoints(),
            policy.hasEndpoints() && !policy.hasInternal(),
            oldInternal
                .map(ServiceLbCalculator::slots)
                .orElse(adopted.getOrDefault(false, List.of())),
            ids,
            used);
    Optional<LbService.Scope> external =
        p.externallyAccessible()
            ? Optional.of(
                scope(
                    p.externalPolicyLocal() ? policy.local() : p.endpoints(),
                    policy.hasEndpoints() && !policy.hasExternal(),
                    oldExternal
                        .map(ServiceLbCalculator::slots)
                        .orElse(adopted.getOrDefault(true, List.of())),
                    ids,
                    used))
            : Optional.empty();
    ids.forEach(
        (ep, backendId) -> {
          if (!used.containsKey(ep)) {
            freeBackendIds.add(backendId);
          }
        });
    return new LbService(
        key,
        id,
        frontends,
        internal,
        external,
        p.affinityTimeoutSeconds().orElse(0),
        ranges ? p.loadBalancerSourceRanges() : List.of());
  }

  /** A scope's backends ({@code ip:port}) in slot order. */
  private static List<String> slots(LbService.Scope s) {
    return s.backends().stream().map(b -> b.ip() + ":" + b.port()).toList();
  }

  /**
   * A scope's slots: the backends it had (calculated before, or adopted from the maps) keep their
   * slots, a hole left by one that went is filled by the last, new ones go at the end.
   */
  private LbService.Scope scope(
      List<ServicePort.Endpoint> endpoints,
      boolean dropWhenEmpty,
      List<String> before,
      Map<String, Integer> ids,
      Map<String, Integer> used) {
    Map<String, ServicePort.Endpoint> wanted = new LinkedHashMap<>();
    endpoints.forEach(e -> wanted.put(e.ip() + ":" + e.port(), e));
    List<String> slots = new ArrayList<>(before);
    for (int i = 0; i < slots.size(); ) {
      if (wanted.containsKey(slots.get(i))) {
        i++;
      } else {
        String last = slots.removeLast();
        if (i < slots.size()) {
          slots.set(i, last);
        }
      }
    }
    wanted.keySet().stream().filter(k -> !slots.contains(k)).forEach(slots::add);
    List<LbService.Backend> backends = new ArrayList<>();
    for (String k : slots) {
      ServicePort.Endpoint e = wanted.get(k);
      int id = used.computeIfAbsent(k, x -> ids.containsKey(x) ? ids.get(x) : backendId());
      backends.add(new LbService.Backend(id, e.ip(), e.port(), e.nodeName().orElse("")));
    }
    return new LbService.Scope(backends, dropWhenEmpty && backends.isEmpty());
  }

  private void release(LbService s) {
    freeServiceIds.add(s.id());
    s.internal().backends().forEach(b -> freeBackendIds.add(b.id()));
    s.external().ifPresent(x -> x.backends().forEach(b -> freeBackendIds.add(b.id())));
  }

  private int serviceId() {
    Integer id = freeServiceIds.pollFirst();
    return id != null ? id : nextServiceId++;
  }

  private int backendId() {
    Integer id = freeBackendIds.pollFirst();
    return id != null ? id : nextBackendId++;
  }
}
