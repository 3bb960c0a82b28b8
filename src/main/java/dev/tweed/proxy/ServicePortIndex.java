package dev.tweed.proxy;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The calculation graph's Service calculator: Services and EndpointSlices in, the service ports of
 * each Service out, resolved again only for the Services an update touched (the Service itself, or
 * a slice that belongs or belonged to it). A change to one of 10,000 Services is one resolution,
 * not 10,000.
 */
public final class ServicePortIndex {
  private final Map<String, JsonNode> services = new HashMap<>();
  private final Map<String, Map<String, JsonNode>> slicesByService = new HashMap<>();
  private final Map<String, String> sliceOwner = new HashMap<>();
  private final Set<String> changed = new LinkedHashSet<>();

  /** A Service as the store has it now ({@code namespace/name}), or its removal. */
  public void service(String namespace, String name, Optional<JsonNode> value) {
    String key = namespace + "/" + name;
    value.ifPresentOrElse(v -> services.put(key, v), () -> services.remove(key));
    changed.add(key);
  }

  /** An EndpointSlice as the store has it now, or its removal; only IPv4 slices count. */
  public void slice(String namespace, String name, Optional<JsonNode> value) {
    String sliceKey = namespace + "/" + name;
    String before = sliceOwner.remove(sliceKey);
    if (before != null) {
      Map<String, JsonNode> own = slicesByService.get(before);
      own.remove(sliceKey);
      if (own.isEmpty()) {
        slicesByService.remove(before);
      }
      changed.add(before);
    }
    if (value.isPresent() && "IPv4".equals(value.get().path("addressType").asText("IPv4"))) {
      String owner =
          ServicePortResolver.key(
              value.get().path("metadata"),
              value
                  .get()
                  .path("metadata")
                  .path("labels")
                  .path(ServicePortResolver.SERVICE_NAME_LABEL)
                  .asText());
      sliceOwner.put(sliceKey, owner);
      slicesByService.computeIfAbsent(owner, k -> new TreeMap<>()).put(sliceKey, value.get());
      changed.add(owner);
    }
  }

  /**
   * The ports of every Service touched since the last call, by {@code namespace/name}; a Service
   * that is gone (or has no port) maps to an empty list.
   */
  public Map<String, List<ServicePort>> drainChanges() {
    Map<String, List<ServicePort>> out = new LinkedHashMap<>();
    for (String key : changed) {
      out.put(key, resolve(key));
    }
    changed.clear();
    return out;
  }

  /** Every Service's ports, by {@code namespace/name} (a full sync); nothing is drained. */
  public Map<String, List<ServicePort>> all() {
    Map<String, List<ServicePort>> out = new LinkedHashMap<>();
    for (String key : new TreeSet<>(services.keySet())) {
      out.put(key, resolve(key));
    }
    return out;
  }

  private List<ServicePort> resolve(String key) {
    JsonNode svc = services.get(key);
    if (svc == null) {
      return List.of();
    }
    Map<String, JsonNode> own = slicesByService.getOrDefault(key, Map.of());
    return ServicePortResolver.resolve(svc, List.copyOf(own.values()));
  }
}
