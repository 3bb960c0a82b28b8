package dev.tweed.observe;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.dataplane.IptablesWriter;
import dev.tweed.model.IpFamily;
import dev.tweed.model.Json;
import dev.tweed.model.ProxyMode;
import dev.tweed.rules.nft.NftCommand;
import dev.tweed.sys.Command;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Packets dropped by Tweed's own netfilter rules, by reason, read from the kernel's rule counters
 * (the standard datapath's counterpart of the eBPF programs' drop counts): {@code iptables-save -c}
 * in iptables mode, the {@code tweed-policy} table's counters in nftables mode. Reasons are named
 * as the eBPF datapath names them.
 */
public final class NetfilterDrops {
  private static final Pattern SAVED = Pattern.compile("^\\[(\\d+):\\d+\\] -A (tweed-\\S+) (.*)$");

  private NetfilterDrops() {}

  /**
   * Reads the counters in the calling process's namespace, both families' summed; {@code mode}
   * iptables or nftables. A family the node does not run has no table and counts nothing.
   */
  public static Map<String, Long> read(ProxyMode mode) {
    Map<String, Long> out = zeros();
    for (IpFamily family : IpFamily.values()) {
      Map<String, Long> counted =
          switch (mode) {
            case NFTABLES -> {
              Command.Result r =
                  Command.exec(
                      List.of(
                          "nft", "-j", "list", "table", NftCommand.family(family), "tweed-policy"),
                      "",
                      Map.of());
              yield r.ok() ? fromNftJson(r.stdout()) : Map.of();
            }
            case IPTABLES -> {
              // Every table: the anti-spoofing drops are in raw, the policy's in filter.
              Command.Result r =
                  Command.exec(
                      List.of(IptablesWriter.tool(family, "iptables-save"), "-c"), "", Map.of());
              yield r.ok() ? fromIptablesSave(r.stdout()) : Map.of();
            }
          };
      counted.forEach((reason, n) -> out.merge(reason, n, Long::sum));
    }
    return out;
  }

  /** Sums the packet counters of the DROP rules in Tweed's chains by reason. */
  static Map<String, Long> fromIptablesSave(String save) {
    Map<String, Long> out = zeros();
    for (String line : save.split("\n")) {
      Matcher m = SAVED.matcher(line);
      if (m.matches() && m.group(3).endsWith("-j DROP")) {
        out.merge(reason(m.group(3)), Long.parseLong(m.group(1)), Long::sum);
      }
    }
    return out;
  }

  /** The same from {@code nft -j list table}: rules that count and drop. */
  static Map<String, Long> fromNftJson(String json) {
    Map<String, Long> out = zeros();
    for (JsonNode item : Json.parse(json).path("nftables")) {
      JsonNode rule = item.path("rule");
      if (rule.isMissingNode()) {
        continue;
      }
      long packets = -1;
      boolean drops = false;
      for (JsonNode expr : rule.path("expr")) {
        if (expr.has("counter")) {
          packets = expr.path("counter").path("packets").asLong();
        }
        drops |= expr.has("drop");
      }
      if (drops && packets >= 0) {
        out.merge(reason(rule.path("comment").asText("") + rule.toString()), packets, Long::sum);
      }
    }
    return out;
  }

  private static Map<String, Long> zeros() {
    Map<String, Long> out = new TreeMap<>();
    for (String r : List.of("policy-denied", "spoofed-source", "invalid")) {
      out.put(r, 0L);
    }
    return out;
  }

  private static String reason(String rule) {
    // A pod sending router advertisements passes itself off as its gateway.
    if (rule.contains("anti-spoofing") || rule.contains("router advertisements")) {
      return "spoofed-source";
    }
    if (rule.contains("INVALID") || rule.contains("invalid")) {
      return "invalid";
    }
    return "policy-denied";
  }
}
