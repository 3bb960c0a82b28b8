package dev.tweed.proxy;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Turns Services and EndpointSlices (as Kubernetes stores them) into {@link ServicePort}s with
 * their ready endpoints, matching slice ports to service ports by name and protocol, as
 * kube-proxy's endpoint slice cache does. Services without a clusterIP (headless) or of type
 * ExternalName get no rules.
 */
public final class ServicePortResolver {
  public static final String SERVICE_NAME_LABEL = "kubernetes.io/service-name";
  private static final int DEFAULT_AFFINITY_SECONDS = 10800;

  private ServicePortResolver() {}

  public static List<ServicePort> resolve(List<JsonNode> services, List<JsonNode> slices) {
    // Index the slices by the service they belong to once, so that resolving N services with
    // their slices costs O(N), not O(N x slices), on every sync.
    Map<String, List<JsonNode>> byService = new HashMap<>();
    for (JsonNode s : slices) {
      if ("IPv4".equals(s.path("addressType").asText("IPv4"))) {
        String key =
            key(
                s.path("metadata"),
                s.path("metadata").path("labels").path(SERVICE_NAME_LABEL).asText());
        byService.computeIfAbsent(key, k -> new ArrayList<>()).add(s);
      }
    }
    List<ServicePort> out = new ArrayList<>();
    for (JsonNode svc : services) {
      String key = key(svc.path("metadata"), svc.path("metadata").path("name").asText());
      out.addAll(resolve(svc, byService.getOrDefault(key, List.of())));
    }
    return out;
  }

  /** {@code namespace/service}: how a Service and the slices that belong to it are matched. */
  static String key(JsonNode metadata, String serviceName) {
    return metadata.path("namespace").asText("default") + "/" + serviceName;
  }

  /** One Service's ports, from the IPv4 slices that belong to it. */
  static List<ServicePort> resolve(JsonNode svc, List<JsonNode> slices) {
    JsonNode meta = svc.path("metadata");
    JsonNode spec = svc.path("spec");
    String ns = meta.path("namespace").asText("default");
    String name = meta.path("name").asText();
    String type = spec.path("type").asText("ClusterIP");
    String clusterIp = spec.path("clusterIP").asText("");
    if (type.equals("ExternalName") || clusterIp.isEmpty() || clusterIp.equals("None")) {
      return List.of();
    }
    boolean nodePorts = type.equals("NodePort") || type.equals("LoadBalancer");
    List<String> externalIps = texts(spec.path("externalIPs"));
    List<String> lbIps = new ArrayList<>();
    if (type.equals("LoadBalancer")) {
      for (JsonNode ing : svc.path("status").path("loadBalancer").path("ingress")) {
        if (ing.hasNonNull("ip")) {
          lbIps.add(ing.get("ip").asText());
        }
      }
    }
    // kube-proxy tolerates whitespace around source ranges.
    List<String> ranges =
        texts(spec.path("loadBalancerSourceRanges")).stream().map(String::strip).toList();
    Optional<Integer> affinity =
        "ClientIP".equals(spec.path("sessionAffinity").asText())
            ? Optional.of(
                spec.path("sessionAffinityConfig")
                    .path("clientIP")
                    .path("timeoutSeconds")
                    .asInt(DEFAULT_AFFINITY_SECONDS))
            : Optional.empty();
    boolean externallyAccessible = nodePorts || !externalIps.isEmpty() || !lbIps.isEmpty();
    boolean etpLocal =
        externallyAccessible && "Local".equals(spec.path("externalTrafficPolicy").asText());
    boolean itpLocal = "Local".equals(spec.path("internalTrafficPolicy").asText());
    int hcnp =
        etpLocal && type.equals("LoadBalancer") ? spec.path("healthCheckNodePort").asInt(0) : 0;

    List<ServicePort> out = new ArrayList<>();
    for (JsonNode port : spec.path("ports")) {
      String portName = port.path("name").asText("");
      String protocol = port.path("protocol").asText("TCP");
      List<ServicePort.Endpoint> eps = endpointsFor(slices, portName, protocol);
      out.add(
          new ServicePort(
              ns,
              name,
              portName,
              protocol,
              clusterIp,
              port.path("port").asInt(),
              nodePorts ? port.path("nodePort").asInt(0) : 0,
              externalIps,
              lbIps,
              ranges,
              affinity,
              etpLocal,
              itpLocal,
              hcnp,
              eps));
    }
    return out;
  }

  private static List<ServicePort.Endpoint> endpointsFor(
      List<JsonNode> slices, String portName, String protocol) {
    List<ServicePort.Endpoint> eps = new ArrayList<>();
    for (JsonNode slice : slices) {
      for (JsonNode sp : slice.path("ports")) {
        if (!sp.path("name").asText("").equals(portName)
            || !sp.path("protocol").asText("TCP").equals(protocol)
            || !sp.has("port")) {
          continue;
        }
        for (JsonNode ep : slice.path("endpoints")) {
          // A missing "ready" condition means ready, as the EndpointSlice API defines it.
          if (!ep.path("conditions").path("ready").asBoolean(true)) {
            continue;
          }
          Optional<String> nodeName =
              ep.hasNonNull("nodeName")
                  ? Optional.of(ep.get("nodeName").asText())
                  : Optional.empty();
          for (JsonNode addr : ep.path("addresses")) {
            ServicePort.Endpoint e =
                new ServicePort.Endpoint(addr.asText(), sp.path("port").asInt(), nodeName);
            if (eps.stream().noneMatch(x -> x.toString().equals(e.toString()))) {
              eps.add(e);
            }
          }
        }
      }
    }
    eps.sort(Comparator.comparing(ServicePort.Endpoint::toString));
    return eps;
  }

  private static List<String> texts(JsonNode array) {
    List<String> out = new ArrayList<>();
    array.forEach(n -> out.add(n.asText()));
    return out;
  }
}
