package dev.tweed.kernel.nftables;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.model.IpFamily;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * An nftables ruleset as {@code nft -j list ruleset} prints it: tables, chains with their rules in
 * order, and named sets and maps with their elements. Only the families that see IPv4 packets (ip,
 * inet) are kept.
 */
public final class NftRuleset {
  /**
   * @param hook lower-case hook name (prerouting, input, forward, output, postrouting) for a base
   *     chain
   * @param type filter, nat or route
   */
  public record Chain(
      String family,
      String table,
      String name,
      Optional<String> hook,
      int prio,
      String type,
      String policy,
      List<Rule> rules) {}

  /**
   * @param position 1-based, in listing order (what the kernel evaluates)
   * @param text the rule in nft's syntax, as far as {@link NftText} renders it
   */
  public record Rule(
      String family,
      String table,
      String chain,
      int position,
      long handle,
      List<JsonNode> expr,
      String text) {}

  /** A named set or map; {@code elements} are keys, {@code values} the map's data (same order). */
  public record NamedSet(String name, List<JsonNode> elements, List<JsonNode> values) {}

  private final Map<String, Chain> chains = new LinkedHashMap<>();
  private final Map<String, NamedSet> sets = new LinkedHashMap<>();
  private final Map<String, Integer> tableOrder = new LinkedHashMap<>();

  public static NftRuleset parse(JsonNode ruleset) {
    NftRuleset r = new NftRuleset();
    Map<String, List<Rule>> rules = new LinkedHashMap<>();
    for (JsonNode item : ruleset.path("nftables")) {
      JsonNode rule = item.path("rule");
      if (!rule.isMissingNode() && ofIpFamily(rule)) {
        String key =
            key(
                rule.path("family").asText(),
                rule.path("table").asText(),
                rule.path("chain").asText());
        List<Rule> list = rules.computeIfAbsent(key, k -> new ArrayList<>());
        List<JsonNode> expr = new ArrayList<>();
        rule.path("expr").forEach(expr::add);
        list.add(
            new Rule(
                rule.path("family").asText(),
                rule.path("table").asText(),
                rule.path("chain").asText(),
                list.size() + 1,
                rule.path("handle").asLong(),
                List.copyOf(expr),
                NftText.rule(expr)));
      }
    }
    for (JsonNode item : ruleset.path("nftables")) {
      JsonNode t = item.path("table");
      if (!t.isMissingNode()) {
        r.tableOrder.put(
            t.path("family").asText() + " " + t.path("name").asText(), r.tableOrder.size());
      }
      JsonNode c = item.path("chain");
      if (!c.isMissingNode() && ofIpFamily(c)) {
        String family = c.path("family").asText();
        String table = c.path("table").asText();
        String name = c.path("name").asText();
        String key = key(family, table, name);
        r.chains.put(
            key,
            new Chain(
                family,
                table,
                name,
                c.has("hook") ? Optional.of(c.path("hook").asText()) : Optional.empty(),
                c.path("prio").asInt(),
                c.path("type").asText("filter"),
                c.path("policy").asText("accept"),
                List.copyOf(rules.getOrDefault(key, List.of()))));
      }
      for (String kind : List.of("set", "map")) {
        JsonNode s = item.path(kind);
        if (s.isMissingNode() || !ofIpFamily(s)) {
          continue;
        }
        List<JsonNode> keys = new ArrayList<>();
        List<JsonNode> values = new ArrayList<>();
        for (JsonNode e : s.path("elem")) {
          if (kind.equals("map") && e.isArray()) {
            keys.add(e.get(0));
            values.add(e.get(1));
          } else {
            keys.add(e);
          }
        }
        String key =
            key(s.path("family").asText(), s.path("table").asText(), s.path("name").asText());
        r.sets.put(
            key, new NamedSet(s.path("name").asText(), List.copyOf(keys), List.copyOf(values)));
      }
    }
    return r;
  }

  /** An object of a table IP packets pass: ip, ip6 or inet (not arp, bridge or netdev). */
  private static boolean ofIpFamily(JsonNode o) {
    String f = o.path("family").asText();
    return f.equals("ip") || f.equals("ip6") || f.equals("inet");
  }

  private static String key(String family, String table, String name) {
    return family + " " + table + " " + name;
  }

  /**
   * Base chains on {@code hook} (any case) that a packet of {@code family} passes (its family's
   * tables, {@code ip} or {@code ip6}, and {@code inet} ones), in the order the kernel runs them
   * (priority).
   */
  public List<Chain> baseChains(String hook, IpFamily family) {
    String h = hook.toLowerCase(Locale.ROOT);
    String own = family == IpFamily.IPV4 ? "ip" : "ip6";
    return chains.values().stream()
        .filter(c -> c.family().equals(own) || c.family().equals("inet"))
        .filter(c -> c.hook().map(h::equals).orElse(false))
        .sorted(Comparator.comparingInt(Chain::prio))
        .toList();
  }

  public Optional<Chain> chain(String family, String table, String name) {
    return Optional.ofNullable(chains.get(key(family, table, name)));
  }

  public Optional<NamedSet> set(String family, String table, String name) {
    return Optional.ofNullable(sets.get(key(family, table, name)));
  }

  /**
   * The table's place in the listing, which is creation order: of two base chains with the same
   * priority the kernel runs the later-registered first. -1 when the ruleset does not list it.
   */
  public int tableOrder(String family, String table) {
    return tableOrder.getOrDefault(family + " " + table, -1);
  }

  public boolean isEmpty() {
    return chains.isEmpty();
  }
}
