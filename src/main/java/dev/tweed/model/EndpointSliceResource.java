package dev.tweed.model;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A typed view of a Kubernetes EndpointSlice, read once where the object enters the calculation
 * graph: the Service it belongs to (its {@code kubernetes.io/service-name} label), its address
 * type, its ports and its endpoints.
 */
public record EndpointSliceResource(
    String namespace,
    String name,
    String serviceName,
    String addressType,
    List<Port> ports,
    List<Endpoint> endpoints) {
  public static final String KIND = Kinds.ENDPOINT_SLICE;
  public static final String SERVICE_NAME_LABEL = "kubernetes.io/service-name";

  /** One entry of ports; a port without a number matches no Service port. */
  public record Port(String name, String protocol, Optional<Integer> port) {}

  /**
   * One endpoint: its addresses, whether it is ready (a missing condition means ready, as the API
   * defines it) and the node it runs on.
   */
  public record Endpoint(List<String> addresses, boolean ready, Optional<String> nodeName) {
    public Endpoint {
      addresses = List.copyOf(addresses);
    }
  }

  public EndpointSliceResource {
    ports = List.copyOf(ports);
    endpoints = List.copyOf(endpoints);
  }

  public static EndpointSliceResource from(JsonNode slice) {
    JsonNode meta = slice.path("metadata");
    List<Port> ports = new ArrayList<>();
    for (JsonNode p : slice.path("ports")) {
      ports.add(
          new Port(
              p.path("name").asText(""),
              p.path("protocol").asText("TCP"),
              p.has("port") ? Optional.of(p.path("port").asInt()) : Optional.empty()));
    }
    List<Endpoint> endpoints = new ArrayList<>();
    for (JsonNode ep : slice.path("endpoints")) {
      List<String> addresses = new ArrayList<>();
      ep.path("addresses").forEach(a -> addresses.add(a.asText()));
      endpoints.add(
          new Endpoint(
              addresses,
              ep.path("conditions").path("ready").asBoolean(true),
              ep.hasNonNull("nodeName")
                  ? Optional.of(ep.get("nodeName").asText())
                  : Optional.empty()));
    }
    return new EndpointSliceResource(
        meta.path("namespace").asText("default"),
        meta.path("name").asText(),
        meta.path("labels").path(SERVICE_NAME_LABEL).asText(),
        slice.path("addressType").asText("IPv4"),
        ports,
        endpoints);
  }

  /** {@code namespace/service}: the Service this slice belongs to. */
  public String serviceKey() {
    return namespace + "/" + serviceName;
  }
}
