package dev.tweed.lab;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tweed.datastore.DatastoreKind;
import dev.tweed.model.Datapath;
import dev.tweed.model.IpFamilies;
import dev.tweed.model.Json;
import dev.tweed.model.ProxyMode;
import dev.tweed.model.Routing;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * What a lab has started, written before each step takes effect so that {@code lab down} can undo a
 * crashed or half-finished {@code up}: the {@link LabSpec} it was built from, and the PID of every
 * process the lab started (by role). The file keeps each mode by its name.
 */
public record LabState(LabSpec spec, Map<String, Long> pids) {
  public LabState {
    pids = Map.copyOf(pids);
  }

  public LabState withPid(String role, long pid) {
    TreeMap<String, Long> m = new TreeMap<>(pids);
    m.put(role, pid);
    return new LabState(spec, m);
  }

  public LabState withoutPid(String role) {
    TreeMap<String, Long> m = new TreeMap<>(pids);
    m.remove(role);
    return new LabState(spec, m);
  }

  public static Optional<LabState> read(LabLayout layout) {
    if (!Files.exists(layout.stateFile())) {
      return Optional.empty();
    }
    try {
      JsonNode n = Json.MAPPER.readTree(layout.stateFile().toFile());
      TreeMap<String, Long> pids = new TreeMap<>();
      n.path("pids").properties().forEach(e -> pids.put(e.getKey(), e.getValue().asLong()));
      return Optional.of(
          new LabState(
              new LabSpec(
                  Math.max(1, n.path("nodes").asInt()),
                  Routing.parse(n.path("routing").asText("vxlan")),
                  ProxyMode.parse(n.path("proxy").asText("iptables")),
                  Datapath.parse(n.path("dataplane").asText("standard")),
                  n.path("routeReflectors").asInt(0),
                  DatastoreKind.parse(n.path("datastore").asText("embedded")),
                  n.path("etcdMembers").asInt(0),
                  IpFamilies.parse(n.path("ipFamily").asText("ipv4"))),
              pids));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + layout.stateFile(), e);
    }
  }

  public void write(LabLayout layout) {
    ObjectNode n = Json.object();
    n.put("nodes", spec.nodes());
    n.put("routing", spec.routing().id());
    n.put("proxy", spec.proxy().id());
    n.put("datastore", spec.datastore().id());
    n.put("etcdMembers", spec.etcdMembers());
    n.put("dataplane", spec.datapath().id());
    n.put("routeReflectors", spec.routeReflectors());
    n.put("ipFamily", spec.ipFamilies().id());
    ObjectNode p = n.putObject("pids");
    pids.forEach(p::put);
    try {
      Files.createDirectories(layout.dir());
      var tmp = layout.stateFile().resolveSibling("state.json.tmp");
      Files.writeString(tmp, Json.pretty(n));
      Files.move(tmp, layout.stateFile(), StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + layout.stateFile(), e);
    }
  }
}
