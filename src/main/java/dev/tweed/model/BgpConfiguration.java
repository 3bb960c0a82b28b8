package dev.tweed.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;

/**
 * The cluster's BGP settings (Calico's BGPConfiguration "default"): the AS all nodes share, the
 * session timers, BFD, graceful restart, and which nodes reflect routes. With no reflectors every
 * node peers with every other (full mesh); with reflectors the others peer with them only.
 *
 * @param holdSeconds BGP hold time: a silent peer's routes go after this long (BIRD's default 240)
 * @param keepaliveSeconds how often a quiet session says it is alive (a third of the hold time)
 * @param bfdIntervalMs BFD's transmit and receive interval; 0 turns BFD off
 * @param bfdMultiplier missed BFD packets before a peer is down
 * @param gracefulRestart peers keep a restarting node's routes while its BGP session comes back
 * @param restartSeconds how long they keep them (the restart time BIRD announces): also how long a
 *     dead node's routes outlive it, since a BFD failure is handled as a restart
 */
public record BgpConfiguration(
    long asNumber,
    int holdSeconds,
    int keepaliveSeconds,
    int bfdIntervalMs,
    int bfdMultiplier,
    boolean gracefulRestart,
    int restartSeconds,
    List<String> routeReflectors) {
  public static final String KIND = "BGPConfiguration";
  public static final String NAME = "default";

  public BgpConfiguration {
    routeReflectors = List.copyOf(routeReflectors);
    if (holdSeconds != 0 && holdSeconds < 3) {
      throw new IllegalArgumentException(
          "BGP hold time must be 0 or at least 3 s, got " + holdSeconds);
    }
    if (keepaliveSeconds < 1 || (holdSeconds > 0 && keepaliveSeconds > holdSeconds / 3)) {
      throw new IllegalArgumentException(
          "BGP keepalive time must be between 1 s and a third of the hold time, got "
              + keepaliveSeconds);
    }
    if (bfdIntervalMs < 0 || bfdMultiplier < 1) {
      throw new IllegalArgumentException("BFD interval must be >= 0 and multiplier >= 1");
    }
  }

  /**
   * Tweed's defaults: hold 9 s and keepalive 3 s (BGP alone notices a dead peer within 9 s), BFD
   * every 100 ms with 3 misses (a dead peer is noticed in 0.3 s), graceful restart with a 5 s
   * restart time (a BIRD that crashed and came back within 5 s costs no route; a dead node's routes
   * go 0.3 + 5 s after it died).
   */
  public static BgpConfiguration defaults() {
    return new BgpConfiguration(64512, 9, 3, 100, 3, true, 5, List.of());
  }

  public BgpConfiguration withRouteReflectors(List<String> nodes) {
    return new BgpConfiguration(
        asNumber,
        holdSeconds,
        keepaliveSeconds,
        bfdIntervalMs,
        bfdMultiplier,
        gracefulRestart,
        restartSeconds,
        nodes);
  }

  public boolean fullMesh() {
    return routeReflectors.isEmpty();
  }

  public static BgpConfiguration from(JsonNode o) {
    JsonNode s = o.path("spec");
    BgpConfiguration d = defaults();
    List<String> rr = new ArrayList<>();
    s.path("routeReflectors").forEach(n -> rr.add(n.asText()));
    return new BgpConfiguration(
        s.path("asNumber").asLong(d.asNumber()),
        s.path("holdTimeSeconds").asInt(d.holdSeconds()),
        s.path("keepaliveTimeSeconds").asInt(d.keepaliveSeconds()),
        s.path("bfdIntervalMs").asInt(d.bfdIntervalMs()),
        s.path("bfdMultiplier").asInt(d.bfdMultiplier()),
        s.path("gracefulRestart").asBoolean(d.gracefulRestart()),
        s.path("gracefulRestartSeconds").asInt(d.restartSeconds()),
        rr);
  }

  public ObjectNode toJson() {
    ObjectNode n = Json.object();
    n.put("apiVersion", "tweed.dev/v1");
    n.put("kind", KIND);
    n.putObject("metadata").put("name", NAME);
    ObjectNode s = n.putObject("spec");
    s.put("asNumber", asNumber);
    s.put("holdTimeSeconds", holdSeconds);
    s.put("keepaliveTimeSeconds", keepaliveSeconds);
    s.put("bfdIntervalMs", bfdIntervalMs);
    s.put("bfdMultiplier", bfdMultiplier);
    s.put("gracefulRestart", gracefulRestart);
    s.put("gracefulRestartSeconds", restartSeconds);
    ArrayNode rr = s.putArray("routeReflectors");
    routeReflectors.forEach(rr::add);
    return n;
  }

  public ResourceKey key() {
    return ResourceKey.cluster(KIND, NAME);
  }
}
