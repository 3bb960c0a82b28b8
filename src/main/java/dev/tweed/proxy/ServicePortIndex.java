package dev.tweed.proxy;

import dev.tweed.model.EndpointSliceResource;
import dev.tweed.model.IpFamily;
import dev.tweed.model.ServiceResource;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * The calculation graph's Service calculator: Services and EndpointSlices in, the service ports of
 * each Service out, resolved again only for the Services an update touched (the Service itself, or
 * a slice that belongs or belonged to it). A change to one of 10,000 Services is one resolution,
 * not 10,000. One index per family: each feeds that family's proxier.
 */
public final class ServicePortIndex {
  private final IpFamily family;

  /** The IPv4 index. */
  public ServicePortIndex() {
    this(IpFamily.IPV4);
  }

  public ServicePortIndex(IpFamily family) {
    this.family = family;
  }

  public IpFamily family() {
    return family;
  }

  private final Map<String, ServiceResource> services = new HashMap<>();
  private final Map<String, Map<String, EndpointSliceResource>> slicesByService = new HashMap<>();
  private final Map<String, String> sliceOwner = new HashMap<>();

  /** Every Service's ports as last resolved, by {@code namespace/name}. */
  private final Map<String, List<ServicePort>> resolved = new TreeMap<>();

  /** Services whose resolution is out of date. */
  private final Set<String> stale = new LinkedHashSet<>();

  /** Services touched since the last {@link #drainChanges}. */
  private final Set<String> changed = new LinkedHashSet<>();

  /** A Service as the store has it now ({@code namespace/name}), or its removal. */
  public void service(String namespace, String name, Optional<ServiceResource> value) {
    String key = namespace + "/" + name;
    value.ifPresentOrElse(v -> services.put(key, v), () -> services.remove(key));
    touched(key);
  }

  /** An EndpointSlice as the store has it now, or its removal; only this family's slices count. */
  public void slice(String namespace, String name, Optional<EndpointSliceResource> value) {
    String sliceKey = namespace + "/" + name;
    String before = sliceOwner.remove(sliceKey);
    if (before != null) {
      Map<String, EndpointSliceResource> own = slicesByService.get(before);
      own.remove(sliceKey);
      if (own.isEmpty()) {
        slicesByService.remove(before);
      }
      touched(before);
    }
    if (value.isPresent() && ServicePortResolver.counts(value.get(), family)) {
      String owner = value.get().serviceKey();
      sliceOwner.put(sliceKey, owner);
      slicesByService.computeIfAbsent(owner, k -> new TreeMap<>()).put(sliceKey, value.get());
      touched(owner);
    }
  }

  private void touched(String key) {
    stale.add(key);
    changed.add(key);
  }

  /** Resolves what changed since: only those Services. */
  private void refresh() {
    for (String key : stale) {
      if (services.containsKey(key)) {
        resolved.put(key, resolve(key));
      } else {
        resolved.remove(key);
      }
    }
    stale.clear();
  }

  /**
   * The ports of every Service touched since the last call, by {@code namespace/name}; a Service
   * that is gone (or has no port) maps to an empty list.
   */
  public Map<String, List<ServicePort>> drainChanges() {
    refresh();
    Map<String, List<ServicePort>> out = new LinkedHashMap<>();
    for (String key : changed) {
      out.put(key, resolved.getOrDefault(key, List.of()));
    }
    changed.clear();
    return out;
  }

  /**
   * Every Service's ports, by {@code namespace/name} in name order (a full sync); only the Services
   * touched since the last call are resolved again, and nothing is drained.
   */
  public Map<String, List<ServicePort>> all() {
    refresh();
    return Collections.unmodifiableMap(new LinkedHashMap<>(resolved));
  }

  /** Every service port, Services in name order. */
  public List<ServicePort> ports() {
    refresh();
    List<ServicePort> out = new ArrayList<>();
    resolved.values().forEach(out::addAll);
    return out;
  }

  private List<ServicePort> resolve(String key) {
    ServiceResource svc = services.get(key);
    Map<String, EndpointSliceResource> own = slicesByService.getOrDefault(key, Map.of());
    return ServicePortResolver.resolve(svc, List.copyOf(own.values()), family);
  }
}
