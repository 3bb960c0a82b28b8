package dev.tweed.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A Kubernetes Node as far as the network cares: its name and its underlay ({@code InternalIP})
 * addresses, one per family on a dual-stack node, the first being its primary.
 */
public record NodeResource(String name, List<String> internalIps) {
  public static final String KIND = "Node";

  public NodeResource {
    internalIps = List.copyOf(internalIps);
    if (internalIps.isEmpty()) {
      throw new IllegalArgumentException("node " + name + " has no InternalIP address");
    }
  }

  /** A node with one underlay address. */
  public NodeResource(String name, String internalIp) {
    this(name, List.of(internalIp));
  }

  public static NodeResource from(JsonNode n) {
    String name = n.path("metadata").path("name").asText();
    List<String> ips = new ArrayList<>();
    for (JsonNode a : n.path("status").path("addresses")) {
      if ("InternalIP".equals(a.path("type").asText())) {
        ips.add(a.path("address").asText());
      }
    }
    if (ips.isEmpty()) {
      throw new IllegalArgumentException("node " + name + " has no InternalIP address");
    }
    return new NodeResource(name, ips);
  }

  /** The primary underlay address. */
  public String internalIp() {
    return internalIps.getFirst();
  }

  /** The underlay address of {@code family}, if the node has one. */
  public Optional<String> internalIp(IpFamily family) {
    return internalIps.stream().filter(a -> IpFamily.of(a) == family).findFirst();
  }

  public ObjectNode toJson() {
    ObjectNode n = Json.object();
    n.put("apiVersion", "v1");
    n.put("kind", KIND);
    n.putObject("metadata").put("name", name);
    ArrayNode addresses = n.putObject("status").putArray("addresses");
    for (String ip : internalIps) {
      addresses.addObject().put("type", "InternalIP").put("address", ip);
    }
    return n;
  }

  public ResourceKey key() {
    return ResourceKey.cluster(KIND, name);
  }
}
