package dev.tweed.lab;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.cni.AgentClient;
import dev.tweed.model.Json;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.Predicate;

/**
 * The flows the lab's nodes recorded, gathered from every agent (or one), filtered as {@code hubble
 * observe} filters, in time order; {@link #poll} gives what came since the last call, for {@code
 * --follow}.
 */
public final class LabFlows {
  /** The filters of {@code tweed lab observe}; empty ones let everything through. */
  public record Filter(
      Optional<String> pod,
      Optional<String> namespace,
      Optional<String> verdict,
      Optional<String> toService,
      Optional<Duration> since) {
    public Filter {
      if (verdict.isPresent()
          && !List.of("FORWARDED", "DROPPED", "REJECTED")
              .contains(verdict.get().toUpperCase(Locale.ROOT))) {
        throw new IllegalArgumentException(
            "verdict must be FORWARDED, DROPPED or REJECTED, got " + verdict.get());
      }
    }

    /** {@code 30s}, {@code 5m}, {@code 1h}: how far back {@code since} looks. */
    public static Duration duration(String s) {
      if (!s.matches("[0-9]{1,9}[smh]")) {
        throw new IllegalArgumentException("since wants 30s, 5m or 1h, got '" + s + "'");
      }
      long n = Long.parseLong(s.substring(0, s.length() - 1));
      return switch (s.charAt(s.length() - 1)) {
        case 's' -> Duration.ofSeconds(n);
        case 'm' -> Duration.ofMinutes(n);
        default -> Duration.ofHours(n);
      };
    }

    Predicate<JsonNode> predicate() {
      Instant after = since.map(d -> Instant.now().minus(d)).orElse(Instant.EPOCH);
      return f ->
          pod.map(p -> is(f.path("source"), p) || is(f.path("destination"), p)).orElse(true)
              && namespace
                  .map(
                      ns ->
                          ns.equals(f.path("source").path("namespace").asText())
                              || ns.equals(f.path("destination").path("namespace").asText()))
                  .orElse(true)
              && verdict.map(v -> v.equalsIgnoreCase(f.path("verdict").asText())).orElse(true)
              && toService
                  .map(
                      s -> {
                        JsonNode d = f.path("destination_service");
                        return s.equals(
                            d.path("namespace").asText() + "/" + d.path("name").asText());
                      })
                  .orElse(true)
              && !Instant.parse(f.path("time").asText()).isBefore(after);
    }

    private static boolean is(JsonNode side, String nsPod) {
      return nsPod.equals(side.path("namespace").asText() + "/" + side.path("pod_name").asText());
    }
  }

  private final LabLayout layout;
  private final List<String> nodes;
  private final Map<String, Long> seen = new HashMap<>();

  public LabFlows(LabLayout layout, List<String> nodes) {
    this.layout = layout;
    this.nodes = List.copyOf(nodes);
  }

  /** Flows in time order and, per node, the number of the last one read (the next cursor). */
  public record Page(List<JsonNode> flows, Map<String, Long> next) {
    public Page {
      flows = List.copyOf(flows);
      next = Map.copyOf(next);
    }
  }

  /**
   * The flows recorded since the last call (all the agents keep, the first time), in time order.
   */
  public List<JsonNode> poll(Filter filter) {
    Page page = page(filter, seen);
    seen.putAll(page.next());
    return page.flows();
  }

  /**
   * The flows each node recorded after the number {@code cursor} gives it (0 when absent), kept by
   * {@code filter}, in time order.
   */
  public Page page(Filter filter, Map<String, Long> cursor) {
    List<JsonNode> out = new ArrayList<>();
    Map<String, Long> next = new HashMap<>();
    Predicate<JsonNode> keep = filter.predicate();
    for (String node : nodes) {
      JsonNode page;
      try {
        long since = cursor.getOrDefault(node, 0L);
        page = Json.parse(AgentClient.flows(layout.agentSocket(node), since));
        if (page.path("next").asLong() < since) {
          // A restarted agent numbers its flows from 1 again: all it has is new.
          page = Json.parse(AgentClient.flows(layout.agentSocket(node), 0));
        }
      } catch (IOException e) {
        throw new UncheckedIOException(
            "node " + node + "'s agent does not answer: " + e.getMessage(), e);
      }
      if (page.has("error")) {
        throw new IllegalStateException(page.path("error").asText());
      }
      next.put(node, page.path("next").asLong());
      page.path("flows")
          .forEach(
              f -> {
                if (keep.test(f)) {
                  out.add(f);
                }
              });
    }
    out.sort(Comparator.comparing(f -> f.path("time").asText()));
    return new Page(out, next);
  }
}
