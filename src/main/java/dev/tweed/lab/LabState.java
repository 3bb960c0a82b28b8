package dev.tweed.lab;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tweed.model.Json;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * What a lab has started, written before each step takes effect so that {@code lab down} can undo a
 * crashed or half-finished {@code up}: the node count, the routing mode, the datastore ({@code
 * embedded}, or {@code etcd} with its member count), the datapath ({@code standard} or {@code
 * ebpf}), and the PID of every process the lab started (by role).
 */
public record LabState(
    int nodes,
    String routing,
    String proxy,
    String datastore,
    int etcdMembers,
    String dataplane,
    Map<String, Long> pids) {
  public LabState {
    pids = Map.copyOf(pids);
  }

  public LabState(int nodes, String routing, String proxy, Map<String, Long> pids) {
    this(nodes, routing, proxy, "embedded", 0, "standard", pids);
  }

  public boolean ebpf() {
    return dataplane.equals("ebpf");
  }

  public boolean etcd() {
    return datastore.equals("etcd");
  }

  public LabState withPid(String role, long pid) {
    TreeMap<String, Long> m = new TreeMap<>(pids);
    m.put(role, pid);
    return new LabState(nodes, routing, proxy, datastore, etcdMembers, dataplane, m);
  }

  public LabState withoutPid(String role) {
    TreeMap<String, Long> m = new TreeMap<>(pids);
    m.remove(role);
    return new LabState(nodes, routing, proxy, datastore, etcdMembers, dataplane, m);
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
              n.path("nodes").asInt(),
              n.path("routing").asText(),
              n.path("proxy").asText("iptables"),
              n.path("datastore").asText("embedded"),
              n.path("etcdMembers").asInt(0),
              n.path("dataplane").asText("standard"),
              pids));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + layout.stateFile(), e);
    }
  }

  public void write(LabLayout layout) {
    ObjectNode n = Json.object();
    n.put("nodes", nodes);
    n.put("routing", routing);
    n.put("proxy", proxy);
    n.put("datastore", datastore);
    n.put("etcdMembers", etcdMembers);
    n.put("dataplane", dataplane);
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
