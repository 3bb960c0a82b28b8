package dev.tweed.lab.service;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tweed.lab.ReachabilityMatrix;
import dev.tweed.model.IpFamily;
import dev.tweed.model.Json;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The matrix of who reaches whom, one per family probed (in the cluster's order), with the policies
 * that isolate each pod.
 */
public record ReachabilityAnswer(
    ReachabilityRequest request,
    Map<IpFamily, ReachabilityMatrix> matrices,
    List<PodIsolation> isolation) {
  public ReachabilityAnswer {
    matrices = Collections.unmodifiableMap(new LinkedHashMap<>(matrices));
    isolation = List.copyOf(isolation);
  }

  /** The first family's matrix. */
  public ReachabilityMatrix matrix() {
    return matrices.values().iterator().next();
  }

  /** Each family's matrix under its name when there are two; the one alone otherwise. */
  public String render() {
    if (matrices.size() == 1) {
      return matrix().render();
    }
    StringBuilder sb = new StringBuilder();
    matrices.forEach((f, m) -> sb.append(f.apiName()).append(":\n").append(m.render()));
    return sb.toString();
  }

  /**
   * The first family's matrix ({@code pods}, {@code matrix}) and its {@code family}, plus the
   * request and the isolation; with two families, {@code families} holds each one's.
   */
  public ObjectNode toJson() {
    ObjectNode o = matrix().toJson();
    o.put("family", matrices.keySet().iterator().next().apiName());
    o.put("port", request.port()).put("protocol", request.proto());
    if (matrices.size() > 1) {
      ObjectNode each = o.putObject("families");
      matrices.forEach((f, m) -> each.set(f.apiName(), m.toJson()));
    }
    o.set("isolation", Json.MAPPER.valueToTree(isolation));
    return o;
  }
}
