package dev.tweed.lab;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tweed.model.Json;
import java.util.ArrayList;
import java.util.List;

/**
 * Who reaches whom: rows are sources, columns destinations, in the order of {@code pods} ({@code
 * NS/POD}). Printed as the Kubernetes network-policy e2e tests print their truth tables: {@code .}
 * for connected, {@code X} for not.
 */
public record ReachabilityMatrix(List<String> pods, List<List<Boolean>> connected) {
  public ReachabilityMatrix {
    pods = List.copyOf(pods);
    connected = connected.stream().map(List::copyOf).toList();
  }

  public boolean get(int from, int to) {
    return connected.get(from).get(to);
  }

  public String render() {
    StringBuilder sb = new StringBuilder("-");
    pods.forEach(p -> sb.append('\t').append(p));
    sb.append('\n');
    for (int i = 0; i < pods.size(); i++) {
      sb.append(pods.get(i));
      for (int j = 0; j < pods.size(); j++) {
        sb.append('\t').append(get(i, j) ? '.' : 'X');
      }
      sb.append('\n');
    }
    return sb.toString();
  }

  /** {@code {"pods": [...], "matrix": [[1, 0, ...], ...]}}. */
  public ObjectNode toJson() {
    ObjectNode o = Json.object();
    ArrayNode names = o.putArray("pods");
    pods.forEach(names::add);
    ArrayNode rows = o.putArray("matrix");
    for (List<Boolean> row : connected) {
      ArrayNode r = rows.addArray();
      row.forEach(c -> r.add(c ? 1 : 0));
    }
    return o;
  }

  /** The cells where this (observed) differs from {@code expected}, as {@code from -> to: ...}. */
  public List<String> differences(ReachabilityMatrix expected) {
    if (!pods.equals(expected.pods())) {
      throw new IllegalArgumentException("matrices of different pods");
    }
    List<String> out = new ArrayList<>();
    for (int i = 0; i < pods.size(); i++) {
      for (int j = 0; j < pods.size(); j++) {
        if (get(i, j) != expected.get(i, j)) {
          out.add(
              pods.get(i)
                  + " -> "
                  + pods.get(j)
                  + ": expected "
                  + (expected.get(i, j) ? "connected" : "blocked")
                  + ", observed "
                  + (get(i, j) ? "connected" : "blocked"));
        }
      }
    }
    return out;
  }

  /** Side by side, expected and observed, with the differing cells marked. */
  public String diffTable(ReachabilityMatrix expected) {
    StringBuilder sb = new StringBuilder("expected / observed (* = differs)\n-");
    pods.forEach(p -> sb.append('\t').append(p));
    sb.append('\n');
    for (int i = 0; i < pods.size(); i++) {
      sb.append(pods.get(i));
      for (int j = 0; j < pods.size(); j++) {
        boolean e = expected.get(i, j);
        boolean o = get(i, j);
        sb.append('\t').append(e ? '.' : 'X').append('/').append(o ? '.' : 'X');
        if (e != o) {
          sb.append('*');
        }
      }
      sb.append('\n');
    }
    return sb.toString();
  }
}
