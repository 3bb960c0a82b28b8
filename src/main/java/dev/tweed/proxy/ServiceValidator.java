package dev.tweed.proxy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.model.Cidr;
import dev.tweed.model.FamilyCidrs;
import dev.tweed.model.IpAddress;
import java.util.HashSet;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Checks a Service as the API server would before anything acts on it; a failure names the field.
 * Only what the proxy relies on is checked: types, ports, addresses, policies.
 */
public final class ServiceValidator {
  public static final int NODE_PORT_MIN = 30000;
  public static final int NODE_PORT_MAX = 32767;
  private static final Set<String> TYPES =
      Set.of("ClusterIP", "NodePort", "LoadBalancer", "ExternalName");
  private static final Set<String> PROTOCOLS = Set.of("TCP", "UDP", "SCTP");
  private static final Pattern PORT_NAME = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?");

  /** A field and what is wrong with it. */
  public static final class Invalid extends Exception {
    public final String field;

    public Invalid(String field, String problem) {
      super(problem);
      this.field = field;
    }
  }

  private ServiceValidator() {}

  /** Checks {@code svc} for a cluster with a Service range per family in {@code serviceCidrs}. */
  public static void validate(JsonNode svc, FamilyCidrs serviceCidrs) throws Invalid {
    JsonNode spec = svc.path("spec");
    String type = spec.path("type").asText("ClusterIP");
    if (!TYPES.contains(type)) {
      throw new Invalid(
          "spec.type",
          "must be one of ClusterIP, NodePort, LoadBalancer, ExternalName, got '" + type + "'");
    }
    JsonNode ports = spec.path("ports");
    if (!type.equals("ExternalName") && (!ports.isArray() || ports.isEmpty())) {
      throw new Invalid("spec.ports", "at least one port is required");
    }
    Set<String> names = new HashSet<>();
    Set<String> portKeys = new HashSet<>();
    for (int i = 0; i < ports.size(); i++) {
      JsonNode p = ports.get(i);
      String f = "spec.ports[" + i + "]";
      String name = p.path("name").asText("");
      if (ports.size() > 1 && name.isEmpty()) {
        throw new Invalid(f + ".name", "is required when a Service has more than one port");
      }
      if (!name.isEmpty() && (!PORT_NAME.matcher(name).matches() || name.length() > 15)) {
        throw new Invalid(f + ".name", "'" + name + "' is not a valid port name");
      }
      if (!name.isEmpty() && !names.add(name)) {
        throw new Invalid(f + ".name", "duplicate port name '" + name + "'");
      }
      int port = portNumber(p.path("port"), f + ".port");
      String proto = p.path("protocol").asText("TCP");
      if (!PROTOCOLS.contains(proto)) {
        throw new Invalid(f + ".protocol", "must be TCP, UDP or SCTP, got '" + proto + "'");
      }
      if (!portKeys.add(port + "/" + proto)) {
        throw new Invalid(f, "duplicate port " + port + "/" + proto);
      }
      JsonNode target = p.path("targetPort");
      if (target.isTextual() && !target.asText().chars().allMatch(Character::isDigit)) {
        if (!PORT_NAME.matcher(target.asText()).matches() || target.asText().length() > 15) {
          throw new Invalid(
              f + ".targetPort",
              "'" + target.asText() + "' is neither a port number nor a port name");
        }
      } else if (!target.isMissingNode() && !target.isNull()) {
        portNumber(target, f + ".targetPort");
      }
      if (p.has("nodePort") && p.path("nodePort").asInt() != 0) {
        if (!type.equals("NodePort") && !type.equals("LoadBalancer")) {
          throw new Invalid(f + ".nodePort", "may only be set for type NodePort or LoadBalancer");
        }
        int np = p.path("nodePort").asInt();
        if (np < NODE_PORT_MIN || np > NODE_PORT_MAX) {
          throw new Invalid(
              f + ".nodePort",
              np + " is outside the node port range " + NODE_PORT_MIN + "-" + NODE_PORT_MAX);
        }
      }
    }
    ServiceIpFamilies.of(svc, serviceCidrs);
    for (JsonNode ip : spec.path("externalIPs")) {
      address(ip.asText(), "spec.externalIPs");
    }
    for (JsonNode r : spec.path("loadBalancerSourceRanges")) {
      try {
        Cidr.parse(r.asText().strip());
      } catch (IllegalArgumentException e) {
        throw new Invalid("spec.loadBalancerSourceRanges", "'" + r.asText() + "' is not a CIDR");
      }
    }
    for (JsonNode ing : svc.path("status").path("loadBalancer").path("ingress")) {
      if (ing.has("ip")) {
        address(ing.path("ip").asText(), "status.loadBalancer.ingress.ip");
      }
    }
    String affinity = spec.path("sessionAffinity").asText("None");
    if (!affinity.equals("None") && !affinity.equals("ClientIP")) {
      throw new Invalid("spec.sessionAffinity", "must be None or ClientIP, got '" + affinity + "'");
    }
    JsonNode timeout = spec.path("sessionAffinityConfig").path("clientIP").path("timeoutSeconds");
    if (!timeout.isMissingNode() && (timeout.asInt() < 1 || timeout.asInt() > 86400)) {
      throw new Invalid(
          "spec.sessionAffinityConfig.clientIP.timeoutSeconds", "must be between 1 and 86400");
    }
    for (String policy : new String[] {"externalTrafficPolicy", "internalTrafficPolicy"}) {
      String v = spec.path(policy).asText("Cluster");
      if (!v.equals("Cluster") && !v.equals("Local")) {
        throw new Invalid("spec." + policy, "must be Cluster or Local, got '" + v + "'");
      }
    }
    JsonNode selector = spec.path("selector");
    if (!selector.isMissingNode() && !selector.isObject()) {
      throw new Invalid("spec.selector", "must be a map of labels");
    }
  }

  private static int portNumber(JsonNode n, String field) throws Invalid {
    if (!n.isInt() || n.asInt() < 1 || n.asInt() > 65535) {
      throw new Invalid(field, "must be a number between 1 and 65535, got " + n);
    }
    return n.asInt();
  }

  private static IpAddress address(String text, String field) throws Invalid {
    try {
      return IpAddress.parse(text);
    } catch (IllegalArgumentException e) {
      throw new Invalid(field, "'" + text + "' is not an IP address");
    }
  }
}
