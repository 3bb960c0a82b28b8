package dev.tweed.lab.service;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tweed.lab.ProbeResult;
import dev.tweed.model.Json;

/** What a probe saw: the address it went to and whether, and what, it was answered. */
public record ProbeAnswer(ProbeRequest request, String ip, ProbeResult result) {
  public ObjectNode toJson() {
    ObjectNode o = Json.object();
    o.put("from", request.from())
        .put("to", request.to())
        .put("ip", ip)
        .put("port", request.port())
        .put("protocol", request.proto())
        .put("connected", result.connected())
        .put("answer", result.answer())
        .put("reason", result.reason())
        .put("millis", Math.round(result.millis() * 1000) / 1000.0);
    return o;
  }
}
