package dev.tweed.lab.service;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tweed.lab.ReachabilityMatrix;
import dev.tweed.model.Json;
import java.util.List;

/** The matrix of who reaches whom, with the policies that isolate each pod. */
public record ReachabilityAnswer(
    ReachabilityRequest request, ReachabilityMatrix matrix, List<PodIsolation> isolation) {
  public ReachabilityAnswer {
    isolation = List.copyOf(isolation);
  }

  /** The matrix's own JSON ({@code pods}, {@code matrix}), plus the request and the isolation. */
  public ObjectNode toJson() {
    ObjectNode o = matrix.toJson();
    o.put("port", request.port()).put("protocol", request.proto());
    o.set("isolation", Json.MAPPER.valueToTree(isolation));
    return o;
  }
}
