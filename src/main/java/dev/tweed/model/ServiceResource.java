package dev.tweed.model;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A typed view of a Kubernetes Service: the parts a proxy programs, read once where the object
 * enters the calculation graph. Defaults are the API server's (type ClusterIP, protocol TCP,
 * ClientIP affinity for 10,800 s).
 *
 * @param loadBalancerIps the addresses in status.loadBalancer.ingress (LoadBalancer type only)
 * @param affinityTimeoutSeconds present when sessionAffinity is ClientIP
 */
public record ServiceResource(
    String namespace,
    String name,
    String type,
    String clusterIp,
    List<String> externalIps,
    List<String> loadBalancerIps,
    List<String> loadBalancerSourceRanges,
    Optional<Integer> affinityTimeoutSeconds,
    String externalTrafficPolicy,
    String internalTrafficPolicy,
    int healthCheckNodePort,
    List<Port> ports) {
  public static final String KIND = Kinds.SERVICE;
  private static final int DEFAULT_AFFINITY_SECONDS = 10800;

  /** One entry of spec.ports. */
  public record Port(String name, String protocol, int port, int nodePort) {}

  public ServiceResource {
    externalIps = List.copyOf(externalIps);
    loadBalancerIps = List.copyOf(loadBalancerIps);
    loadBalancerSourceRanges = List.copyOf(loadBalancerSourceRanges);
    ports = List.copyOf(ports);
  }

  public static ServiceResource from(JsonNode svc) {
    JsonNode meta = svc.path("metadata");
    JsonNode spec = svc.path("spec");
    String type = spec.path("type").asText("ClusterIP");
    List<String> lbIps = new ArrayList<>();
    if (type.equals("LoadBalancer")) {
      for (JsonNode ing : svc.path("status").path("loadBalancer").path("ingress")) {
        if (ing.hasNonNull("ip")) {
          lbIps.add(ing.get("ip").asText());
        }
      }
    }
    List<Port> ports = new ArrayList<>();
    for (JsonNode p : spec.path("ports")) {
      ports.add(
          new Port(
              p.path("name").asText(""),
              p.path("protocol").asText("TCP"),
              p.path("port").asInt(),
              p.path("nodePort").asInt(0)));
    }
    return new ServiceResource(
        meta.path("namespace").asText("default"),
        meta.path("name").asText(),
        type,
        spec.path("clusterIP").asText(""),
        texts(spec.path("externalIPs")),
        lbIps,
        // kube-proxy tolerates whitespace around source ranges.
        texts(spec.path("loadBalancerSourceRanges")).stream().map(String::strip).toList(),
        "ClientIP".equals(spec.path("sessionAffinity").asText())
            ? Optional.of(
                spec.path("sessionAffinityConfig")
                    .path("clientIP")
                    .path("timeoutSeconds")
                    .asInt(DEFAULT_AFFINITY_SECONDS))
            : Optional.empty(),
        spec.path("externalTrafficPolicy").asText("Cluster"),
        spec.path("internalTrafficPolicy").asText("Cluster"),
        spec.path("healthCheckNodePort").asInt(0),
        ports);
  }

  /** {@code namespace/name}: how a Service and the slices that belong to it are matched. */
  public String qualifiedName() {
    return namespace + "/" + name;
  }

  private static List<String> texts(JsonNode array) {
    List<String> out = new ArrayList<>();
    array.forEach(n -> out.add(n.asText()));
    return out;
  }
}
