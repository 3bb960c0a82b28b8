package dev.tweed.dataplane;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.model.Cidr;
import dev.tweed.model.FdbEntry;
import dev.tweed.model.Neighbor;
import dev.tweed.model.Route;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** Parses iproute2's JSON output into the dataplane model (pure, so it is unit-tested). */
public final class KernelStateParser {
  private KernelStateParser() {}

  /** Routes from {@code ip -j route show proto 97}. */
  public static List<Route> routes(JsonNode json) {
    List<Route> out = new ArrayList<>();
    for (JsonNode r : json) {
      String dst = r.path("dst").asText();
      if (dst.equals("default")) {
        dst = "0.0.0.0/0";
      }
      Optional<String> gw =
          r.hasNonNull("gateway") ? Optional.of(r.get("gateway").asText()) : Optional.empty();
      out.add(new Route(Cidr.parse(dst), gw, r.path("dev").asText()));
    }
    return out;
  }

  /** Permanent neighbours from {@code ip -j neigh show dev D nud permanent}. */
  public static List<Neighbor> neighbors(JsonNode json, String device) {
    List<Neighbor> out = new ArrayList<>();
    for (JsonNode n : json) {
      if (n.hasNonNull("lladdr")) {
        out.add(new Neighbor(n.path("dst").asText(), n.get("lladdr").asText(), device));
      }
    }
    return out;
  }

  /** Unicast entries with a remote destination from {@code bridge -j fdb show dev D}. */
  public static List<FdbEntry> fdb(JsonNode json, String device) {
    List<FdbEntry> out = new ArrayList<>();
    for (JsonNode f : json) {
      if (f.hasNonNull("dst") && !f.path("mac").asText().equals("00:00:00:00:00:00")) {
        out.add(new FdbEntry(f.get("mac").asText(), device, f.get("dst").asText()));
      }
    }
    return out;
  }
}
