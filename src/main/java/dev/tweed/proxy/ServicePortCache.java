package dev.tweed.proxy;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * {@link ServicePortResolver} for a stream of snapshots in which unchanged resources are the same
 * objects (as the calculation graph keeps them): a Service whose object and slices are the ones it
 * resolved last time gets the same {@link ServicePort}s back without being resolved again, so a
 * change to one of 10,000 services costs one resolution and reference comparisons for the rest.
 */
public final class ServicePortCache {
  private record Resolved(JsonNode service, List<JsonNode> slices, List<ServicePort> ports) {}

  private Map<String, Resolved> last = new HashMap<>();

  public List<ServicePort> resolve(List<JsonNode> services, List<JsonNode> slices) {
    Map<String, List<JsonNode>> byService = new HashMap<>();
    for (JsonNode s : slices) {
      if ("IPv4".equals(s.path("addressType").asText("IPv4"))) {
        byService
            .computeIfAbsent(
                ServicePortResolver.key(
                    s.path("metadata"),
                    s.path("metadata")
                        .path("labels")
                        .path(ServicePortResolver.SERVICE_NAME_LABEL)
                        .asText()),
                k -> new ArrayList<>())
            .add(s);
      }
    }
    Map<String, Resolved> now = new HashMap<>();
    List<ServicePort> out = new ArrayList<>();
    for (JsonNode svc : services) {
      String key =
          ServicePortResolver.key(svc.path("metadata"), svc.path("metadata").path("name").asText());
      List<JsonNode> own = byService.getOrDefault(key, List.of());
      Resolved r = last.get(key);
      if (r == null || r.service() != svc || !same(r.slices(), own)) {
        r = new Resolved(svc, own, ServicePortResolver.resolve(svc, own));
      }
      now.put(key, r);
      out.addAll(r.ports());
    }
    last = now;
    return out;
  }

  private static boolean same(List<JsonNode> a, List<JsonNode> b) {
    if (a.size() != b.size()) {
      return false;
    }
    for (int i = 0; i < a.size(); i++) {
      if (a.get(i) != b.get(i)) {
        return false;
      }
    }
    return true;
  }
}
