package dev.tweed.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * A pod's attachment to its node, written by the CNI plugin: which container and interface, which
 * host-side veth, which address. The node's agent routes to it.
 */
public record WorkloadEndpoint(
    String node,
    String containerId,
    String ifname,
    String netns,
    String hostInterface,
    String ip,
    String mac,
    String pod) {
  public static final String KIND = "WorkloadEndpoint";

  /**
   * Calico's choice: every host-side veth has this MAC, and proxy-ARP answers for the pods'
   * gateway. The CNI plugin sets it, the datapaths address pods' frames from it.
   */
  public static final String HOST_MAC = "ee:ee:ee:ee:ee:ee";

  public static String nameOf(String node, String containerId, String ifname) {
    return node + "." + containerId + "." + ifname;
  }

  public ResourceKey key() {
    return ResourceKey.cluster(KIND, nameOf(node, containerId, ifname));
  }

  public static WorkloadEndpoint from(JsonNode n) {
    return Json.convert(n.path("spec"), WorkloadEndpoint.class);
  }

  public ObjectNode toJson() {
    ObjectNode n = Json.object();
    n.put("apiVersion", "tweed.dev/v1");
    n.put("kind", KIND);
    n.putObject("metadata").put("name", nameOf(node, containerId, ifname));
    n.set("spec", Json.tree(this));
    return n;
  }
}
