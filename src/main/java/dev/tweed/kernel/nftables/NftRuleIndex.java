package dev.tweed.kernel.nftables;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Where each rule handle sits in its chain, from {@code nft -j list ruleset}: the 1-based position
 * that {@code iptables-save} order and the model use, for handles the kernel's trace names.
 */
public final class NftRuleIndex {
  private final Map<String, Integer> positions = new HashMap<>();
  private final Map<String, String> texts = new HashMap<>();

  public NftRuleIndex(JsonNode ruleset) {
    Map<String, Integer> counts = new HashMap<>();
    for (JsonNode item : ruleset.path("nftables")) {
      JsonNode r = item.path("rule");
      if (r.isMissingNode()) {
        continue;
      }
      String chain =
          chainKey(r.path("family").asText(), r.path("table").asText(), r.path("chain").asText());
      int pos = counts.merge(chain, 1, Integer::sum);
      positions.put(chain + " " + r.path("handle").asLong(), pos);
      List<JsonNode> expr = new ArrayList<>();
      r.path("expr").forEach(expr::add);
      texts.put(chain + " " + r.path("handle").asLong(), NftText.rule(expr));
    }
  }

  public Optional<Integer> position(String family, String table, String chain, long handle) {
    return Optional.ofNullable(positions.get(chainKey(family, table, chain) + " " + handle));
  }

  public Optional<String> text(String family, String table, String chain, long handle) {
    return Optional.ofNullable(texts.get(chainKey(family, table, chain) + " " + handle));
  }

  private static String chainKey(String family, String table, String chain) {
    return family + " " + table + " " + chain;
  }
}
