package dev.tweed.ebpf;

import dev.tweed.proxy.PortPolicy;
import dev.tweed.proxy.ProxyNode;
import dev.tweed.proxy.ServicePort;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
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
    return new LinkedHashMap<>(current);
  }

  /** Every service calculated, by key (a view, kept up to date). */
  public Map<String, LbService> services() {
    return java.util.Collections.unmodifiableMap(current);
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
    int id = before.map(b -> b.service().id()).orElseGet(this::serviceId);
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
            oldInternal,
            ids,
            used);
    Optional<LbService.Scope> external =
        p.externallyAccessible()
            ? Optional.of(
                scope(
                    p.externalPolicyLocal() ? policy.local() : p.endpoints(),
                    policy.hasEndpoints() && !policy.hasExternal(),
                    oldExternal,
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

  /**
   * A scope's slots: the backends it had keep their slots, a hole left by one that went is filled
   * by the last, new ones go at the end.
   */
  private LbService.Scope scope(
      List<ServicePort.Endpoint> endpoints,
      boolean dropWhenEmpty,
      Optional<LbService.Scope> before,
      Map<String, Integer> ids,
      Map<String, Integer> used) {
    Map<String, ServicePort.Endpoint> wanted = new LinkedHashMap<>();
    endpoints.forEach(e -> wanted.put(e.ip() + ":" + e.port(), e));
    List<String> slots = new ArrayList<>();
    before.ifPresent(s -> s.backends().forEach(b -> slots.add(b.ip() + ":" + b.port())));
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
