package dev.tweed.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.lab.service.Topology;
import dev.tweed.model.NodeResource;
import dev.tweed.model.PodResource;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

/** {@code tweed lab get}'s table of a kind, in kubectl's columns. */
final class ResourceTable {
  private ResourceTable() {}

  static List<String[]> rows(String kind, List<JsonNode> items, Predicate<String> agentReady) {
    List<String[]> rows = new ArrayList<>();
    switch (kind) {
      case NodeResource.KIND -> {
        rows.add(new String[] {"NAME", "STATUS", "INTERNAL-IP", "AGENT"});
        for (JsonNode item : items) {
          NodeResource n = NodeResource.from(item);
          boolean ready = agentReady.test(n.name());
          rows.add(
              new String[] {
                n.name(),
                ready ? "Ready" : "NotReady",
                n.internalIp(),
                ready ? "ready" : "not ready"
              });
        }
      }
      case PodResource.KIND -> {
        rows.add(new String[] {"NAMESPACE", "NAME", "STATUS", "IP", "NODE"});
        for (JsonNode item : items) {
          PodResource p = PodResource.from(item);
          rows.add(
              new String[] {
                p.namespace(),
                p.name(),
                p.deleting() ? "Terminating" : p.phase(),
                p.podIp().orElse("<none>"),
                p.nodeName().orElse("<none>")
              });
        }
      }
      case "Service" -> {
        rows.add(
            new String[] {"NAMESPACE", "NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)"});
        for (JsonNode s : items) {
          rows.add(
              new String[] {
                s.path("metadata").path("namespace").asText(),
                s.path("metadata").path("name").asText(),
                s.path("spec").path("type").asText("ClusterIP"),
                s.path("spec").path("clusterIP").asText("<pending>"),
                externalIps(s),
                String.join(",", Topology.ServiceView.portsOf(s))
              });
        }
      }
      case "EndpointSlice" -> {
        rows.add(new String[] {"NAMESPACE", "NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS"});
        for (JsonNode s : items) {
          List<String> ports = new ArrayList<>();
          s.path("ports").forEach(p -> ports.add(p.path("port").asText()));
          List<String> eps = new ArrayList<>();
          s.path("endpoints").forEach(ep -> ep.path("addresses").forEach(a -> eps.add(a.asText())));
          rows.add(
              new String[] {
                s.path("metadata").path("namespace").asText(),
                s.path("metadata").path("name").asText(),
                s.path("addressType").asText(),
                ports.isEmpty() ? "<unset>" : String.join(",", ports),
                eps.isEmpty() ? "<unset>" : String.join(",", eps)
              });
        }
      }
      case "NetworkPolicy" -> {
        rows.add(new String[] {"NAMESPACE", "NAME", "POD-SELECTOR"});
        for (JsonNode s : items) {
          JsonNode sel = s.path("spec").path("podSelector").path("matchLabels");
          List<String> labels = new ArrayList<>();
          sel.properties().forEach(l -> labels.add(l.getKey() + "=" + l.getValue().asText()));
          rows.add(
              new String[] {
                s.path("metadata").path("namespace").asText(),
                s.path("metadata").path("name").asText(),
                labels.isEmpty() ? "<none>" : String.join(",", labels)
              });
        }
      }
      default -> {
        rows.add(new String[] {"NAME", "STATUS"});
        for (JsonNode item : items) {
          rows.add(
              new String[] {
                item.path("metadata").path("name").asText(),
                item.path("status").path("phase").asText("Active")
              });
        }
      }
    }
    return rows;
  }

  /** kubectl's EXTERNAL-IP column: load-balancer ingress and external IPs, or none/pending. */
  static String externalIps(JsonNode svc) {
    List<String> ips = new ArrayList<>();
    svc.path("status")
        .path("loadBalancer")
        .path("ingress")
        .forEach(i -> ips.add(i.path("ip").asText()));
    svc.path("spec").path("externalIPs").forEach(i -> ips.add(i.asText()));
    if (!ips.isEmpty()) {
      return String.join(",", ips);
    }
    return "LoadBalancer".equals(svc.path("spec").path("type").asText()) ? "<pending>" : "<none>";
  }
}
