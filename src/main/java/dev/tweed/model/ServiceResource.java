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
 * @param clusterIp the primary clusterIP ({@code clusterIPs[0]}), "" or "None" without one
 * @param clusterIps one per family of the Service, in its {@code ipFamilies} order
 * @param loadBalancerIps the addresses in status.loadBalancer.ingress (LoadBalancer type only)
 * @param affinityTimeoutSeconds present when sessionAffinity is ClientIP
 */
public record ServiceResource(
    String namespace,
    String name,
    String type,
    String clusterIp,
    List<String> clusterIps,
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
    clusterIps = List.copyOf(clusterIps);
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
    String clusterIp = spec.path("clusterIP").asText("");
    List<String> clusterIps = texts(spec.path("clusterIPs"));
    if (clusterIps.isEmpty() && !clusterIp.isEmpty() && !clusterIp.equals("None")) {
      clusterIps = List.of(clusterIp); // written before Services had clusterIPs
    }
    return new ServiceResource(
        meta.path("namespace").asText("default"),
        meta.path("name").asText(),
        type,
        clusterIp,
        clusterIps.stream().filter(a -> !a.equals("None")).toList(),
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

  /**
   * The Service as one family's proxier sees it (kube-proxy's meta-proxier hands each family only
   * what is its): the clusterIP of that family, and the external and load-balancer addresses and
   * source ranges of that family. Empty when the Service has no clusterIP of the family.
   */
  public Optional<ServiceResource> forFamily(IpFamily family) {
    Optional<String> ip = clusterIps.stream().filter(a -> IpFamily.of(a) == family).findFirst();
    if (ip.isEmpty()) {
      return Optional.empty();
    }
    return Optional.of(
        new ServiceResource(
            namespace,
            name,
            type,
            ip.get(),
            List.of(ip.get()),
            ofFamily(externalIps, family),
            ofFamily(loadBalancerIps, family),
            ofFamily(loadBalancerSourceRanges, family),
            affinityTimeoutSeconds,
            externalTrafficPolicy,
            internalTrafficPolicy,
            healthCheckNodePort,
            ports));
  }

  private static List<String> ofFamily(List<String> addresses, IpFamily family) {
    return addresses.stream().filter(a -> IpFamily.of(a) == family).toList();
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
