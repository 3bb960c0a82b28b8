package dev.tweed.rules;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * A rendered nftables ruleset: the table's fixed skeleton (sets, verdict maps, base chains) and,
 * per service port, its chains and the map elements that lead to them. The text is an {@code nft
 * -f} script in the form of kube-proxy's nftables transactions.
 */
public record NftablesRuleset(String table, List<String> base, Map<String, List<String>> services) {
  /**
   * {@code services} is taken over, not copied (a render at 10,000 Services would copy 10,000
   * entries on every change): the caller hands over a map it no longer changes.
   */
  public NftablesRuleset {
    base = List.copyOf(base);
    services = Collections.unmodifiableMap(services);
  }

  /** The whole ruleset, as kube-proxy would write it to an empty table. */
  public String render() {
    StringBuilder sb = new StringBuilder();
    base.forEach(l -> sb.append(l).append('\n'));
    // Every declaration first: a rule of one block may refer to a chain or set of another.
    List<String> all = new ArrayList<>();
    services.values().forEach(all::addAll);
    appendBlock(sb, all);
    return sb.toString();
  }

  /** A service's chains and sets are declared before its rules, which may jump to any of them. */
  public static void appendBlock(StringBuilder sb, List<String> lines) {
    for (String l : lines) {
      if (l.startsWith("add chain ") || l.startsWith("add set ")) {
        sb.append(l).append('\n');
      }
    }
    for (String l : lines) {
      if (!l.startsWith("add chain ") && !l.startsWith("add set ")) {
        sb.append(l).append('\n');
      }
    }
  }

  /** A script that replaces the table whole in one transaction. */
  public String replaceScript() {
    return "add table ip " + table + "\ndelete table ip " + table + "\n" + render();
  }
}
