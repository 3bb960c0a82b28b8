package dev.tweed.lab;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.datastore.Datastore;
import dev.tweed.datastore.Entry;
import dev.tweed.model.Json;
import dev.tweed.model.NodeResource;
import dev.tweed.model.ResourceKey;
import dev.tweed.model.Route;
import dev.tweed.proxy.ServicePortResolver;
import dev.tweed.sys.Command;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Plays the cloud load balancer: the router sends each LoadBalancer ingress IP and external IP to
 * the nodes, spread by ECMP. With {@code externalTrafficPolicy: Local} only the nodes that host a
 * ready endpoint get traffic, which is what a load balancer probing the health-check node port
 * would learn.
 */
public final class LoadBalancerRouteController {
  private static final Logger LOG = LoggerFactory.getLogger(LoadBalancerRouteController.class);
  private final Datastore store;
  private final LabLayout layout;
  private final ControllerLoop loop;

  public LoadBalancerRouteController(LabLayout layout, Datastore store) {
    this.layout = layout;
    this.store = store;
    this.loop =
        new ControllerLoop(
            "loadbalancers",
            store,
            List.of(
                ResourceKey.kindPrefix("Service"),
                ResourceKey.kindPrefix("EndpointSlice"),
                ResourceKey.kindPrefix("Node")),
            this::pass);
  }

  public void run() {
    loop.run();
  }

  public void stop() {
    loop.stop();
  }

  void pass() {
    Map<String, String> nodeIps = new TreeMap<>();
    for (Entry e : store.list(ResourceKey.kindPrefix(NodeResource.KIND)).entries()) {
      NodeResource n = NodeResource.from(e.value());
      nodeIps.put(n.name(), n.internalIp());
    }
    List<JsonNode> services = values("Service");
    List<JsonNode> slices = values("EndpointSlice");
    Map<String, Set<String>> want = desiredRoutes(services, slices, nodeIps);
    Map<String, Set<String>> have = currentRoutes();
    List<String> lines = new ArrayList<>();
    for (var e : want.entrySet()) {
      if (!e.getValue().equals(have.get(e.getKey()))) {
        StringBuilder sb =
            new StringBuilder("route replace " + e.getKey() + "/32 proto " + Route.PROTOCOL);
        e.getValue().forEach(gw -> sb.append(" nexthop via ").append(gw));
        lines.add(sb.toString());
      }
    }
    for (String ip : have.keySet()) {
      if (!want.containsKey(ip)) {
        lines.add("route del " + ip + "/32 proto " + Route.PROTOCOL);
      }
    }
    if (!lines.isEmpty()) {
      Namespaces.batch(layout.routerNs(), lines);
      LOG.info("event=loadbalancer-routes-updated changes={}", lines.size());
    }
  }

  private List<JsonNode> values(String kind) {
    return store.list(ResourceKey.kindPrefix(kind)).entries().stream().map(Entry::value).toList();
  }

  /** Pure: for each external address, the underlay addresses of the nodes that should get it. */
  static Map<String, Set<String>> desiredRoutes(
      List<JsonNode> services, List<JsonNode> slices, Map<String, String> nodeIps) {
    Map<String, Set<String>> out = new TreeMap<>();
    for (JsonNode svc : services) {
      JsonNode spec = svc.path("spec");
      List<String> ips = new ArrayList<>();
      spec.path("externalIPs").forEach(ip -> ips.add(ip.asText()));
      if ("LoadBalancer".equals(spec.path("type").asText())) {
        svc.path("status")
            .path("loadBalancer")
            .path("ingress")
            .forEach(
                i -> {
                  if (i.hasNonNull("ip")) {
                    ips.add(i.get("ip").asText());
                  }
                });
      }
      if (ips.isEmpty()) {
        continue;
      }
      Set<String> targets = new TreeSet<>();
      if ("Local".equals(spec.path("externalTrafficPolicy").asText())) {
        String ns = svc.path("metadata").path("namespace").asText("default");
        String name = svc.path("metadata").path("name").asText();
        for (JsonNode slice : slices) {
          if (ns.equals(slice.path("metadata").path("namespace").asText("default"))
              && name.equals(
                  slice
                      .path("metadata")
                      .path("labels")
                      .path(ServicePortResolver.SERVICE_NAME_LABEL)
                      .asText())) {
            for (JsonNode ep : slice.path("endpoints")) {
              String ip = nodeIps.get(ep.path("nodeName").asText(""));
              if (ip != null && ep.path("conditions").path("ready").asBoolean(true)) {
                targets.add(ip);
              }
            }
          }
        }
      } else {
        targets.addAll(nodeIps.values());
      }
      if (!targets.isEmpty()) {
        ips.forEach(ip -> out.computeIfAbsent(ip, k -> new TreeSet<>()).addAll(targets));
      }
    }
    return out;
  }

  private Map<String, Set<String>> currentRoutes() {
    String out =
        Command.run(
            List.of(
                "ip",
                "-n",
                layout.routerNs(),
                "-j",
                "route",
                "show",
                "proto",
                String.valueOf(Route.PROTOCOL)));
    Map<String, Set<String>> have = new TreeMap<>();
    for (JsonNode r : out.isBlank() ? Json.MAPPER.createArrayNode() : Json.parse(out)) {
      Set<String> gws = new TreeSet<>();
      if (r.hasNonNull("gateway")) {
        gws.add(r.get("gateway").asText());
      }
      r.path("nexthops").forEach(n -> gws.add(n.path("gateway").asText()));
      have.put(r.path("dst").asText(), gws);
    }
    return have;
  }
}
