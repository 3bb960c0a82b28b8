package dev.tweed.lab.service;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.lab.LabState;
import dev.tweed.model.Json;
import dev.tweed.model.NodeResource;
import dev.tweed.model.PodResource;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

/** Puts stored nodes, pods, Services and EndpointSlices, agents and BGP sessions together. */
final class TopologyBuilder {
  private final String lab;
  private final LabState state;
  private final Map<String, AgentStatus> agents;

  TopologyBuilder(String lab, LabState state, List<AgentStatus> agents) {
    this.lab = lab;
    this.state = state;
    this.agents = agents.stream().collect(Collectors.toMap(AgentStatus::node, Function.identity()));
  }

  Topology build(
      List<NodeResource> nodes,
      List<PodResource> pods,
      List<JsonNode> services,
      List<JsonNode> slices,
      List<BgpSession> sessions) {
    List<Topology.PodView> views = pods.stream().map(TopologyBuilder::view).toList();
    List<Topology.NodeView> nodeViews =
        nodes.stream()
            .sorted(Comparator.comparing(NodeResource::name))
            .map(
                n ->
                    new Topology.NodeView(
                        n.name(),
                        n.internalIp(),
                        agents.getOrDefault(
                            n.name(), new AgentStatus(n.name(), false, 0, false, Json.object())),
                        views.stream().filter(p -> p.node().equals(n.name())).toList()))
            .toList();
    List<Topology.PodView> unscheduled = views.stream().filter(p -> p.node().isEmpty()).toList();
    return new Topology(
        lab,
        state.spec().routing().id(),
        state.spec().datapath().id(),
        state.spec().dataplane().id(),
        state.spec().datastore().id(),
        nodeViews,
        unscheduled,
        links(nodeViews, sessions),
        services.stream().map(s -> service(s, slices)).toList());
  }

  private static Topology.PodView view(PodResource p) {
    return new Topology.PodView(
        p.namespace(),
        p.name(),
        p.nodeName().orElse(""),
        p.podIp().orElse(""),
        p.podIps(),
        p.deleting() ? "Terminating" : p.phase(),
        LabService.labels(p));
  }

  private List<Topology.Link> links(List<Topology.NodeView> nodes, List<BgpSession> sessions) {
    List<Topology.Link> out = new ArrayList<>();
    if (state.spec().bgp()) {
      for (BgpSession s : sessions) {
        if (!s.peer().equals("-")) {
          out.add(
              new Topology.Link(
                  s.node(),
                  s.peer(),
                  "bgp",
                  s.established() ? "Established" : s.info().isEmpty() ? s.state() : s.info(),
                  s.address() + " since " + s.since()));
        }
      }
      return out;
    }
    // The overlay is a full mesh: every pair of nodes has a tunnel, up while both agents run it.
    for (int i = 0; i < nodes.size(); i++) {
      for (int j = i + 1; j < nodes.size(); j++) {
        Topology.NodeView a = nodes.get(i);
        Topology.NodeView b = nodes.get(j);
        boolean up = a.agent().ready() && b.agent().ready();
        out.add(
            new Topology.Link(
                a.name(),
                b.name(),
                "vxlan",
                up ? "up" : "down",
                a.internalIp() + " <-> " + b.internalIp()));
      }
    }
    return out;
  }

  private static Topology.ServiceView service(JsonNode s, List<JsonNode> slices) {
    String ns = s.path("metadata").path("namespace").asText();
    String name = s.path("metadata").path("name").asText();
    List<Topology.Backend> backends = new ArrayList<>();
    for (JsonNode slice : slices) {
      JsonNode meta = slice.path("metadata");
      if (!meta.path("namespace").asText().equals(ns)
          || !meta.path("labels").path("kubernetes.io/service-name").asText().equals(name)) {
        continue;
      }
      for (JsonNode ep : slice.path("endpoints")) {
        JsonNode ref = ep.path("targetRef");
        String pod =
            ref.isMissingNode()
                ? ""
                : ref.path("namespace").asText() + "/" + ref.path("name").asText();
        for (JsonNode a : ep.path("addresses")) {
          backends.add(
              new Topology.Backend(
                  a.asText(),
                  pod,
                  ep.path("nodeName").asText(""),
                  ep.path("conditions").path("ready").asBoolean(true)));
        }
      }
    }
    backends.sort(Comparator.comparing(Topology.Backend::pod));
    return new Topology.ServiceView(
        ns,
        name,
        s.path("spec").path("type").asText("ClusterIP"),
        s.path("spec").path("clusterIP").asText(""),
        Topology.ServiceView.portsOf(s),
        backends);
  }
}
