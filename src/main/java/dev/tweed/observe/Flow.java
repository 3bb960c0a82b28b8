package dev.tweed.observe;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tweed.model.IpAddress;
import dev.tweed.model.Json;
import dev.tweed.policy.PolicyAllowers;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * One flow as {@code tweed observe} shows it: a connection let through, or a packet dropped or
 * refused, on one node, with the pods, policies and Service involved. Its JSON uses Hubble's field
 * names where they fit ({@code verdict}, {@code drop_reason_desc}, {@code traffic_direction},
 * {@code source}, {@code destination}, {@code l4}, {@code is_reply}).
 *
 * @param seq the agent's number for it, increasing
 * @param deniedBy for a policy drop, the policies isolating the pod in that direction
 * @param allowedBy for a connection let through, the rules of the policies isolating its pods that
 *     allowed it (egress of the source, ingress of the destination, where each is local)
 * @param service for a Service's traffic, {@code namespace/name:port}
 * @param backend for a Service's traffic, the backend chosen ({@code ip:port})
 */
public record Flow(
    long seq,
    Instant time,
    String node,
    String verdict,
    String dropReason,
    String direction,
    String protocol,
    Endpoint source,
    Endpoint destination,
    List<String> deniedBy,
    List<PolicyAllowers.Allower> allowedBy,
    Optional<String> service,
    Optional<String> backend,
    boolean reply,
    String observationPoint,
    int ifindex) {
  public Flow {
    deniedBy = List.copyOf(deniedBy);
    allowedBy = List.copyOf(allowedBy);
  }

  /** A side of a flow: its address and port, and the pod there if one is. */
  public record Endpoint(
      String ip, int port, Optional<String> namespace, Optional<String> pod, List<String> labels) {
    public Endpoint {
      labels = List.copyOf(labels);
    }
  }

  /** Hubble's name for a drop reason. */
  static String hubbleReason(String reason) {
    return switch (reason) {
      case "policy-denied" -> "POLICY_DENIED";
      case "spoofed-source" -> "INVALID_SOURCE_IP";
      case "no-route" -> "FIB_LOOKUP_FAILED";
      case "invalid" -> "INVALID_PACKET_DROPPED";
      case "no-service", "service-rejected" -> "SERVICE_BACKEND_NOT_FOUND";
      case "source-range-denied" -> "DENIED_BY_LB_SRC_RANGE_CHECK";
      default -> reason.toUpperCase(Locale.ROOT).replace('-', '_');
    };
  }

  public ObjectNode toJson() {
    ObjectNode n = Json.object();
    n.put("seq", seq);
    n.put("time", time.toString());
    n.put("node_name", node);
    n.put("verdict", verdict);
    if (!dropReason.isEmpty()) {
      n.put("drop_reason_desc", hubbleReason(dropReason));
    }
    if (!direction.isEmpty()) {
      n.put("traffic_direction", direction.toUpperCase(Locale.ROOT));
    }
    n.putObject("IP").put("source", source.ip()).put("destination", destination.ip());
    if (source.port() != 0 || destination.port() != 0) {
      n.putObject("l4")
          .putObject(protocol)
          .put("source_port", source.port())
          .put("destination_port", destination.port());
    }
    n.set("source", side(source));
    n.set("destination", side(destination));
    n.putObject("is_reply").put("value", reply);
    if (!deniedBy.isEmpty()) {
      var a = n.putArray(direction.equals("ingress") ? "ingress_denied_by" : "egress_denied_by");
      deniedBy.forEach(
          p ->
              a.addObject()
                  .put("name", p.substring(p.indexOf('/') + 1))
                  .put("namespace", p.contains("/") ? p.substring(0, p.indexOf('/')) : ""));
    }
    for (String dir : List.of("ingress", "egress")) {
      var rules = allowedBy.stream().filter(a -> a.ingress() == dir.equals("ingress")).toList();
      if (!rules.isEmpty()) {
        var a = n.putArray(dir + "_allowed_by");
        rules.forEach(
            r ->
                a.addObject()
                    .put("name", r.policy().substring(r.policy().indexOf('/') + 1))
                    .put("namespace", r.policy().substring(0, r.policy().indexOf('/')))
                    .put("rule", r.rule()));
      }
    }
    service.ifPresent(
        s -> {
          String ns = s.substring(0, s.indexOf('/'));
          String rest = s.substring(s.indexOf('/') + 1);
          n.putObject("destination_service")
              .put("namespace", ns)
              .put("name", rest.contains(":") ? rest.substring(0, rest.indexOf(':')) : rest)
              .put("port", s);
        });
    backend.ifPresent(b -> n.put("backend", b));
    n.put("trace_observation_point", observationPoint);
    n.putObject("interface").put("index", ifindex);
    return n;
  }

  private static ObjectNode side(Endpoint e) {
    ObjectNode n = Json.object();
    e.namespace().ifPresent(ns -> n.put("namespace", ns));
    e.pod().ifPresent(p -> n.put("pod_name", p));
    var labels = n.putArray("labels");
    e.labels().forEach(labels::add);
    return n;
  }

  /** One line from a flow's JSON, as {@code hubble observe} prints one by default. */
  public static String compact(JsonNode f) {
    StringBuilder sb = new StringBuilder();
    sb.append(f.path("time").asText()).append(' ').append(f.path("node_name").asText());
    sb.append(": ").append(side(f, "source")).append(" -> ").append(side(f, "destination"));
    var l4 = f.path("l4");
    sb.append(' ').append(l4.isObject() && l4.size() > 0 ? l4.fieldNames().next() : "IP");
    String dir = f.path("traffic_direction").asText("").toLowerCase(Locale.ROOT);
    if (!dir.isEmpty()) {
      sb.append(' ').append(dir);
    }
    sb.append(' ').append(f.path("verdict").asText());
    if (f.has("drop_reason_desc")) {
      sb.append(" (").append(f.path("drop_reason_desc").asText());
      var denied =
          f.has("ingress_denied_by") ? f.path("ingress_denied_by") : f.path("egress_denied_by");
      if (denied.size() > 0) {
        sb.append(", ").append(dir).append(" denied by");
        denied.forEach(
            p ->
                sb.append(' ')
                    .append(p.path("namespace").asText())
                    .append('/')
                    .append(p.path("name").asText()));
      }
      sb.append(')');
    }
    for (String side : List.of("egress", "ingress")) {
      var allowed = f.path(side + "_allowed_by");
      allowed.forEach(
          p ->
              sb.append(" (")
                  .append(side)
                  .append(" allowed by ")
                  .append(p.path("namespace").asText())
                  .append('/')
                  .append(p.path("name").asText())
                  .append(" rule ")
                  .append(p.path("rule").asInt())
                  .append(')'));
    }
    if (f.has("destination_service")) {
      sb.append(" service ").append(f.path("destination_service").path("port").asText());
    }
    if (f.has("backend")) {
      sb.append(" backend ").append(f.path("backend").asText());
    }
    return sb.toString();
  }

  private static String side(JsonNode f, String which) {
    var e = f.path(which);
    String who =
        e.has("pod_name")
            ? e.path("namespace").asText() + "/" + e.path("pod_name").asText()
            : f.path("IP").path(which).asText();
    var l4 = f.path("l4");
    if (l4.isObject() && l4.size() > 0) {
      int port = l4.elements().next().path(which + "_port").asInt();
      return port == 0 ? who : IpAddress.hostPort(who, port);
    }
    return who;
  }
}
