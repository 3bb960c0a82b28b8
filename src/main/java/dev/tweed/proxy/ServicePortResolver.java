package dev.tweed.proxy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.model.EndpointSliceResource;
import dev.tweed.model.IpFamily;
import dev.tweed.model.ServiceResource;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Turns Services and EndpointSlices into {@link ServicePort}s with their ready endpoints, matching
 * slice ports to service ports by name and protocol, as kube-proxy's endpoint slice cache does.
 * Services without a clusterIP (headless) or of type ExternalName get no rules. One family at a
 * time, as each of kube-proxy's per-family proxiers sees it: a Service counts in a family it has a
 * clusterIP of, and only slices whose {@code addressType} is that family serve it there.
 */
public final class ServicePortResolver {
  public static final String SERVICE_NAME_LABEL = EndpointSliceResource.SERVICE_NAME_LABEL;

  private ServicePortResolver() {}

  /** Every port of {@code services}, as Kubernetes stores them (a file, a listing). */
  /**
   * The service ports of the Services and EndpointSlices among {@code resources} (others ignored).
   */
  public static List<ServicePort> resolveResources(List<? extends JsonNode> resources) {
    return resolveResources(resources, IpFamily.IPV4);
  }

  /** The same in {@code family}. */
  public static List<ServicePort> resolveResources(
      List<? extends JsonNode> resources, IpFamily family) {
    List<JsonNode> services = new ArrayList<>();
    List<JsonNode> slices = new ArrayList<>();
    for (JsonNode o : resources) {
      switch (o.path("kind").asText()) {
        case "Service" -> services.add(o);
        case "EndpointSlice" -> slices.add(o);
        default -> {}
      }
    }
    return resolve(services, slices, family);
  }

  public static List<ServicePort> resolve(List<JsonNode> services, List<JsonNode> slices) {
    return resolve(services, slices, IpFamily.IPV4);
  }

  public static List<ServicePort> resolve(
      List<JsonNode> services, List<JsonNode> slices, IpFamily family) {
    // Index the slices by the service they belong to once, so that resolving N services with
    // their slices costs O(N), not O(N x slices).
    Map<String, List<EndpointSliceResource>> byService = new HashMap<>();
    for (JsonNode s : slices) {
      EndpointSliceResource slice = EndpointSliceResource.from(s);
      if (counts(slice, family)) {
        byService.computeIfAbsent(slice.serviceKey(), k -> new ArrayList<>()).add(slice);
      }
    }
    List<ServicePort> out = new ArrayList<>();
    for (JsonNode s : services) {
      ServiceResource svc = ServiceResource.from(s);
      out.addAll(resolve(svc, byService.getOrDefault(svc.qualifiedName(), List.of()), family));
    }
    return out;
  }

  /** Whether a slice's endpoints serve {@code family}'s proxier: those of its address type. */
  static boolean counts(EndpointSliceResource slice, IpFamily family) {
    return slice.addressType().equals(family.apiName());
  }

  /** One Service's IPv4 ports, from the slices that belong to it. */
  public static List<ServicePort> resolve(ServiceResource svc, List<EndpointSliceResource> slices) {
    return resolve(svc, slices, IpFamily.IPV4);
  }

  /** One Service's ports in {@code family}: none if it has no clusterIP of the family. */
  public static List<ServicePort> resolve(
      ServiceResource whole, List<EndpointSliceResource> slices, IpFamily family) {
    if (whole.type().equals("ExternalName") || whole.clusterIp().equals("None")) {
      return List.of();
    }
    Optional<ServiceResource> ofFamily = whole.forFamily(family);
    if (ofFamily.isEmpty()) {
      return List.of();
    }
    ServiceResource svc = ofFamily.get();
    String type = svc.type();
    String clusterIp = svc.clusterIp();
    if (type.equals("ExternalName") || clusterIp.isEmpty() || clusterIp.equals("None")) {
      return List.of();
    }
    boolean nodePorts = type.equals("NodePort") || type.equals("LoadBalancer");
    boolean externallyAccessible =
        nodePorts || !svc.externalIps().isEmpty() || !svc.loadBalancerIps().isEmpty();
    boolean etpLocal = externallyAccessible && svc.externalTrafficPolicy().equals("Local");
    boolean itpLocal = svc.internalTrafficPolicy().equals("Local");
    int hcnp = etpLocal && type.equals("LoadBalancer") ? svc.healthCheckNodePort() : 0;

    List<ServicePort> out = new ArrayList<>();
    for (ServiceResource.Port port : svc.ports()) {
      out.add(
          new ServicePort(
              svc.namespace(),
              svc.name(),
              port.name(),
              port.protocol(),
              clusterIp,
              port.port(),
              nodePorts ? port.nodePort() : 0,
              svc.externalIps(),
              svc.loadBalancerIps(),
              svc.loadBalancerSourceRanges(),
              svc.affinityTimeoutSeconds(),
              etpLocal,
              itpLocal,
              hcnp,
              endpointsFor(slices, port.name(), port.protocol())));
    }
    return out;
  }

  private static List<ServicePort.Endpoint> endpointsFor(
      List<EndpointSliceResource> slices, String portName, String protocol) {
    List<ServicePort.Endpoint> eps = new ArrayList<>();
    for (EndpointSliceResource slice : slices) {
      for (EndpointSliceResource.Port sp : slice.ports()) {
        if (!sp.name().equals(portName) || !sp.protocol().equals(protocol) || sp.port().isEmpty()) {
          continue;
        }
        for (EndpointSliceResource.Endpoint ep : slice.endpoints()) {
          if (!ep.ready()) {
            continue;
          }
          for (String addr : ep.addresses()) {
            ServicePort.Endpoint e = new ServicePort.Endpoint(addr, sp.port().get(), ep.nodeName());
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
}
