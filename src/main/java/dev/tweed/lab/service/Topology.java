package dev.tweed.lab.service;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The lab as the web view draws it: nodes with their agents and pods, the links between nodes
 * (VXLAN tunnels or BGP sessions) and the Services with their backends.
 */
public record Topology(
    String lab,
    String routing,
    String dataplane,
    String proxy,
    String datastore,
    List<NodeView> nodes,
    List<PodView> unscheduled,
    List<Link> links,
    List<ServiceView> services) {

  /** A node, its agent and the pods it runs. */
  public record NodeView(String name, String internalIp, AgentStatus agent, List<PodView> pods) {}

  /**
   * A pod: where it runs, its primary address ("" before it has one) and all of them (one per
   * family), its phase and labels.
   */
  public record PodView(
      String namespace,
      String name,
      String node,
      String ip,
      List<String> ips,
      String phase,
      Map<String, String> labels) {}

  /** A Service, its ports as {@code kubectl get} prints them, and its endpoints. */
  public record ServiceView(
      String namespace,
      String name,
      String type,
      String clusterIP,
      List<String> ports,
      List<Backend> backends) {

    /** A Service's ports as kubectl prints them: {@code 80/TCP}, {@code 80:30080/TCP}. */
    public static List<String> portsOf(JsonNode service) {
      List<String> out = new ArrayList<>();
      for (JsonNode p : service.path("spec").path("ports")) {
        int nodePort = p.path("nodePort").asInt(0);
        out.add(
            p.path("port").asText()
                + (nodePort != 0 ? ":" + nodePort : "")
                + "/"
                + p.path("protocol").asText("TCP"));
      }
      return out;
    }
  }

  /** An endpoint of a Service: its address, the pod behind it ({@code NS/POD}) and its node. */
  public record Backend(String ip, String pod, String node, boolean ready) {}

  /**
   * A link between two nodes: {@code vxlan} (up while both agents are ready) or {@code bgp} (the
   * session's state as the {@code from} node's BIRD reports it).
   */
  public record Link(String from, String to, String kind, String state, String detail) {}
}
