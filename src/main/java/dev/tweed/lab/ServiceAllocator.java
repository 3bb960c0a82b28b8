package dev.tweed.lab;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tweed.datastore.Entry;
import dev.tweed.model.Cidr;
import dev.tweed.model.FamilyCidrs;
import dev.tweed.model.IpAddress;
import dev.tweed.model.IpFamily;
import dev.tweed.model.ServiceResource;
import dev.tweed.proxy.ServiceIpFamilies;
import dev.tweed.proxy.ServiceValidator;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Gives Services what the API server would: their IP family fields ({@link ServiceIpFamilies}), a
 * clusterIP per family from that family's service CIDR, node ports from 30000-32767 and a
 * health-check node port for Local LoadBalancers, honouring values the user set and refusing ones
 * already taken.
 */
final class ServiceAllocator {
  static final Cidr SERVICE_CIDR = Cidr.parse(LabLayout.SERVICE_CIDR);
  private final FamilyCidrs ranges;
  private final Set<IpAddress> clusterIps = new HashSet<>();
  private final Set<Integer> nodePorts = new HashSet<>();

  ServiceAllocator(List<Entry> existing, Optional<String> exceptKey) {
    this(existing, exceptKey, FamilyCidrs.of(SERVICE_CIDR));
  }

  ServiceAllocator(List<Entry> existing, Optional<String> exceptKey, FamilyCidrs ranges) {
    this.ranges = ranges;
    for (Entry e : existing) {
      if (exceptKey.isPresent() && exceptKey.get().equals(e.key())) {
        continue;
      }
      take(e.value());
    }
  }

  private void take(JsonNode svc) {
    ServiceResource.from(svc).clusterIps().forEach(ip -> clusterIps.add(IpAddress.parse(ip)));
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
    ServiceIpFamilies families;
    try {
      families = ServiceIpFamilies.of(svc, ranges);
    } catch (ServiceValidator.Invalid e) {
      throw new InvalidResourceException(what, e.field, e.getMessage());
    }
    spec.put("ipFamilyPolicy", families.policy());
    ArrayNode fams = spec.putArray("ipFamilies");
    families.families().forEach(f -> fams.add(f.apiName()));
    List<String> ips = new ArrayList<>();
    if (families.headless()) {
      ips.add("None");
    } else {
      for (int i = 0; i < families.families().size(); i++) {
        IpFamily f = families.families().get(i);
        Optional<String> given = families.given(f);
        if (given.isPresent()) {
          if (!clusterIps.add(IpAddress.parse(given.get()))) {
            throw new InvalidResourceException(
                what, "spec.clusterIPs[" + i + "]", given.get() + " is already allocated");
          }
          ips.add(IpAddress.parse(given.get()).toString());
        } else {
          ips.add(allocate(ranges.of(f).orElseThrow(), what));
        }
      }
    }
    spec.put("clusterIP", ips.getFirst());
    ArrayNode clusterIpsNode = spec.putArray("clusterIPs");
    ips.forEach(clusterIpsNode::add);
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

  /** The lowest free address of {@code range} from .10 (.1 is the API server's own Service's). */
  private String allocate(Cidr range, String what) throws InvalidResourceException {
    for (long i = 10; i < range.size() - 1; i++) {
      IpAddress a = range.address(i);
      if (clusterIps.add(a)) {
        return a.toString();
      }
    }
    throw new InvalidResourceException(what, "spec.clusterIP", "no free address in " + range);
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
