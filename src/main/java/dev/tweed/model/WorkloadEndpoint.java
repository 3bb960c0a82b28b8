package dev.tweed.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Optional;

/**
 * A pod's attachment to its node, written by the CNI plugin: which container and interface, which
 * host-side veth, which addresses (one per family, in the cluster's family order, as a pod's {@code
 * status.podIPs}). The node's agent routes to them.
 */
public record WorkloadEndpoint(
    String node,
    String containerId,
    String ifname,
    String netns,
    String hostInterface,
    List<String> ips,
    String mac,
    String pod) {
  public static final String KIND = "WorkloadEndpoint";

  /**
   * Calico's choice: every host-side veth has this MAC, and proxy-ARP answers for the pods'
   * gateway. The CNI plugin sets it, the datapaths address pods' frames from it.
   */
  public static final String HOST_MAC = "ee:ee:ee:ee:ee:ee";

  public WorkloadEndpoint {
    ips = List.copyOf(ips);
    if (ips.isEmpty()) {
      throw new IllegalArgumentException("a workload endpoint has at least one address");
    }
  }

  /** An endpoint with one address. */
  public WorkloadEndpoint(
      String node,
      String containerId,
      String ifname,
      String netns,
      String hostInterface,
      String ip,
      String mac,
      String pod) {
    this(node, containerId, ifname, netns, hostInterface, List.of(ip), mac, pod);
  }

  /** The primary address (the first family's), as a pod's {@code status.podIP}. */
  public String ip() {
    return ips.getFirst();
  }

  /** The address of {@code family}, if the pod has one. */
  public Optional<String> ip(IpFamily family) {
    return ips.stream().filter(a -> IpFamily.of(a) == family).findFirst();
  }

  public static String nameOf(String node, String containerId, String ifname) {
    return node + "." + containerId + "." + ifname;
  }

  public ResourceKey key() {
    return ResourceKey.cluster(KIND, nameOf(node, containerId, ifname));
  }

  public static WorkloadEndpoint from(JsonNode n) {
    JsonNode spec = n.path("spec");
    if (!spec.has("ips") && spec.has("ip")) {
      // Written before endpoints had an address per family.
      ObjectNode upgraded = spec.deepCopy();
      upgraded.putArray("ips").add(spec.path("ip").asText());
      spec = upgraded;
    }
    return Json.convert(spec, WorkloadEndpoint.class);
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
