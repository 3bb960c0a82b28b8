package dev.tweed.lab;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tweed.datastore.Entry;
import dev.tweed.model.Cidr;
import dev.tweed.model.Ipv4;
import dev.tweed.proxy.ServiceValidator;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Gives Services what the API server would: a clusterIP from the service CIDR, node ports from
 * 30000-32767 and a health-check node port for Local LoadBalancers, honouring values the user set
 * and refusing ones already taken.
 */
final class ServiceAllocator {
  static final Cidr SERVICE_CIDR = Cidr.parse("10.96.0.0/16");
  private final Set<Integer> clusterIps = new HashSet<>();
  private final Set<Integer> nodePorts = new HashSet<>();

  ServiceAllocator(List<Entry> existing, Optional<String> exceptKey) {
    for (Entry e : existing) {
      if (exceptKey.isPresent() && exceptKey.get().equals(e.key())) {
        continue;
      }
      take(e.value());
    }
  }

  private void take(JsonNode svc) {
    String ip = svc.path("spec").path("clusterIP").asText("");
    if (!ip.isEmpty() && !ip.equals("None")) {
      clusterIps.add(Ipv4.parse(ip));
    }
    for (JsonNode p : svc.path("spec").path("ports")) {
      if (p.path("nodePort").asInt() != 0) {
        nodePorts.add(p.path("nodePort").asInt());
      }
    }
    if (svc.path("spec").path("healthCheckNodePort").asInt() != 0) {
      nodePorts.add(svc.path("spec").path("healthCheckNodePort").asInt());
    }
  }

  /** Fills in what is missing, in place; the object has passed {@link ServiceValidator}. */
  void allocate(ObjectNode svc, String what) throws InvalidResourceException {
    ObjectNode spec = svc.withObject("spec");
    String type = spec.path("type").asText("ClusterIP");
    if (type.equals("ExternalName")) {
      return;
    }
    String ip = spec.path("clusterIP").asText("");
    if (ip.isEmpty()) {
      // .1 is kept for the API server's own Service, as Kubernetes keeps it.
      for (long i = 10; i < SERVICE_CIDR.size() - 1; i++) {
        if (!clusterIps.contains(SERVICE_CIDR.address(i).v4())) {
          spec.put("clusterIP", SERVICE_CIDR.address(i).toString());
          break;
        }
      }
    } else if (!ip.equals("None") && clusterIps.contains(Ipv4.parse(ip))) {
      throw new InvalidResourceException(what, "spec.clusterIP", ip + " is already allocated");
    }
    if (!spec.path("clusterIP").asText("").equals("None")) {
      clusterIps.add(Ipv4.parse(spec.path("clusterIP").asText()));
    }
    boolean needsNodePorts = type.equals("NodePort") || type.equals("LoadBalancer");
    int i = 0;
    for (JsonNode p : spec.path("ports")) {
      int np = p.path("nodePort").asInt(0);
      if (np != 0 && !nodePorts.add(np)) {
        throw new InvalidResourceException(
            what, "spec.ports[" + i + "].nodePort", np + " is already allocated");
      }
      if (np == 0 && needsNodePorts) {
        ((ObjectNode) p).put("nodePort", nextNodePort(what));
      }
      i++;
    }
    boolean local = "Local".equals(spec.path("externalTrafficPolicy").asText());
    if (type.equals("LoadBalancer") && local && spec.path("healthCheckNodePort").asInt(0) == 0) {
      spec.put("healthCheckNodePort", nextNodePort(what));
    }
  }

  private int nextNodePort(String what) throws InvalidResourceException {
    for (int p = ServiceValidator.NODE_PORT_MIN; p <= ServiceValidator.NODE_PORT_MAX; p++) {
      if (nodePorts.add(p)) {
        return p;
      }
    }
    throw new InvalidResourceException(what, "spec.ports", "no free node port left");
  }
}
