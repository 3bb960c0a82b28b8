package dev.tweed.lab.web;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tweed.lab.InvalidResourceException;
import dev.tweed.lab.LabFlows;
import dev.tweed.lab.LabResources;
import dev.tweed.lab.service.LabService;
import dev.tweed.lab.service.ProbeRequest;
import dev.tweed.lab.service.ReachabilityRequest;
import dev.tweed.lab.service.TraceRequest;
import dev.tweed.model.IpFamily;
import dev.tweed.model.Json;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * The HTTP API under {@code /api/}: each route reads its parameters, calls the lab service and
 * answers the JSON the CLI prints with {@code -o json}. The routes are listed in the README.
 */
final class LabApi {
  /** What a route answers: a status and a JSON body. */
  record Answer(int status, JsonNode body) {
    static Answer ok(Object body) {
      return new Answer(200, body instanceof JsonNode j ? j : Json.MAPPER.valueToTree(body));
    }
  }

  private static final Duration APPLY_WAIT = Duration.ofSeconds(60);
  private final LabService lab;

  LabApi(LabService lab) {
    this.lab = lab;
  }

  /** {@code path} without {@code /api/}, split on slashes. */
  Answer handle(String method, List<String> path, Query q, byte[] body) throws Exception {
    String route = path.isEmpty() ? "" : path.getFirst();
    if (List.of("apply", "delete").contains(route)) {
      requireMethod(method, "POST");
      return change(route, body);
    }
    requireMethod(method, "GET");
    return switch (route) {
      case "topology" -> Answer.ok(lab.topology());
      case "status" -> Answer.ok(lab.status());
      case "resources" -> resources(path);
      case "probe" -> Answer.ok(lab.probe(probe(q)).toJson());
      case "reachability" -> Answer.ok(lab.reachability(reachability(q)).toJson());
      case "trace" -> Answer.ok(lab.trace(trace(q)).toJson());
      case "flows" -> flows(q);
      default -> throw new HttpError(404, "no API route /api/" + String.join("/", path));
    };
  }

  private static void requireMethod(String method, String wanted) {
    if (!method.equals(wanted)) {
      throw new HttpError(405, "use " + wanted + " here, not " + method);
    }
  }

  /** {@code /api/resources/KIND} lists, {@code /api/resources/KIND/[NS/]NAME} gets one. */
  private Answer resources(List<String> path) {
    if (path.size() < 2) {
      throw new HttpError(404, "name a kind: /api/resources/pods, /api/resources/services, ...");
    }
    String kind = LabService.kind(path.get(1));
    return switch (path.size()) {
      case 2 -> Answer.ok(LabService.list(lab.get(kind)));
      case 3 -> Answer.ok(lab.getOne(kind, "", path.get(2)));
      case 4 -> Answer.ok(lab.getOne(kind, path.get(2), path.get(3)));
      default -> throw new HttpError(404, "too many parts in /api/" + String.join("/", path));
    };
  }

  private Answer change(String route, byte[] body) throws Exception {
    String text = new String(body, StandardCharsets.UTF_8);
    if (text.isBlank()) {
      throw new HttpError(400, "the body must hold the resources, as YAML or JSON");
    }
    LabService.ChangeResult r;
    try {
      var objects = LabResources.read(text, "request body");
      r = route.equals("apply") ? lab.apply(objects, APPLY_WAIT) : lab.delete(objects, APPLY_WAIT);
    } catch (InvalidResourceException | JacksonException e) {
      throw new HttpError(400, e.getMessage() + " (nothing was changed)");
    }
    ObjectNode o = Json.object();
    o.set("results", Json.MAPPER.valueToTree(r.results()));
    o.set("pending", Json.MAPPER.valueToTree(r.pending()));
    return new Answer(r.complete() ? 200 : 202, o);
  }

  private static ProbeRequest probe(Query q) {
    return new ProbeRequest(
        q.require("from"),
        q.require("to"),
        q.integer("port", 80),
        q.get("proto").orElse("tcp"),
        Duration.ofMillis(q.integer("timeout", 2000)),
        q.flag("clientIp"),
        q.get("family").map(IpFamily::parse));
  }

  private ReachabilityRequest reachability(Query q) {
    Set<String> namespaces =
        q.get("namespaces")
            .map(s -> Arrays.stream(s.split(",")).map(String::strip).collect(Collectors.toSet()))
            .orElse(Set.of());
    return new ReachabilityRequest(
        namespaces,
        q.integer("port", 80),
        q.get("proto").orElse("tcp"),
        Duration.ofMillis(q.integer("timeout", 1000)),
        q.get("family")
            .map(
                f ->
                    f.equals("both")
                        ? lab.state().spec().ipFamilies().families()
                        : List.of(IpFamily.parse(f)))
            .orElse(List.of()));
  }

  private static TraceRequest trace(Query q) {
    return new TraceRequest(
        q.require("from"),
        q.require("to"),
        q.integer("port", 80),
        q.get("proto").orElse("tcp"),
        q.integer("sport", 40000),
        q.get("pick").map(p -> q.integer("pick", 1)),
        q.flag("reply"),
        q.flag("verify"),
        q.get("family").map(IpFamily::parse));
  }

  /** {@code cursor} is {@code node-1:12,node-2:7}, as the previous page's {@code cursor} said. */
  private Answer flows(Query q) {
    List<String> nodes = q.get("node").map(List::of).orElse(lab.nodes());
    LabFlows.Filter filter =
        new LabFlows.Filter(
            q.get("pod"),
            q.get("namespace"),
            q.get("verdict"),
            q.get("service"),
            q.get("since").map(LabFlows.Filter::duration));
    LabFlows.Page page = lab.flows(nodes, filter, cursor(q.get("cursor")));
    ObjectNode o = Json.object();
    o.set("flows", Json.MAPPER.valueToTree(page.flows()));
    o.put(
        "cursor",
        new TreeMap<>(page.next())
            .entrySet().stream()
                .map(e -> e.getKey() + ":" + e.getValue())
                .collect(Collectors.joining(",")));
    return Answer.ok(o);
  }

  private static Map<String, Long> cursor(Optional<String> s) {
    Map<String, Long> out = new LinkedHashMap<>();
    if (s.isEmpty()) {
      return out;
    }
    for (String part : s.get().split(",")) {
      int colon = part.lastIndexOf(':');
      try {
        out.put(part.substring(0, colon), Long.parseLong(part.substring(colon + 1)));
      } catch (RuntimeException e) {
        throw new HttpError(400, "cursor must look like node-1:12,node-2:7, got '" + s.get() + "'");
      }
    }
    return out;
  }
}
