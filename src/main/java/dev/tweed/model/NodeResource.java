package dev.tweed.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/** A Kubernetes Node as far as the network cares: its name and underlay (InternalIP) address. */
public record NodeResource(String name, String internalIp) {
  public static final String KIND = "Node";

  public static NodeResource from(JsonNode n) {
    String name = n.path("metadata").path("name").asText();
    for (JsonNode a : n.path("status").path("addresses")) {
      if ("InternalIP".equals(a.path("type").asText())) {
        return new NodeResource(name, a.path("address").asText());
      }
    }
    throw new IllegalArgumentException("node " + name + " has no InternalIP address");
  }

  public ObjectNode toJson() {
    ObjectNode n = Json.object();
    n.put("apiVersion", "v1");
    n.put("kind", KIND);
    n.putObject("metadata").put("name", name);
    ObjectNode addr = n.putObject("status").putArray("addresses").addObject();
    addr.put("type", "InternalIP");
    addr.put("address", internalIp);
    return n;
  }

  public ResourceKey key() {
    return ResourceKey.cluster(KIND, name);
  }
}
