package dev.tweed.proxy;

import dev.tweed.rules.JumpRule;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A rendered ruleset, kept in the pieces a sync needs: the filter table (small, always written
 * whole), the nat dispatch chains (KUBE-SERVICES, KUBE-NODEPORTS, KUBE-POSTROUTING, KUBE-MARK-MASQ;
 * always written whole), one block of chains per service port (written only when it changed, as
 * kube-proxy's partial syncs do), and the jump rules from the built-in chains, which are ensured
 * one by one because a restore must not own the built-in chains.
 */
public record IptablesRuleset(
    String filterTable,
    ChainBlock natDispatch,
    Map<String, ChainBlock> services,
    List<JumpRule> jumps) {

  /** Chain declarations and rules of one unit of the nat table. */
  public record ChainBlock(List<String> chains, List<String> rules) {
    public ChainBlock {
      chains = List.copyOf(chains);
      rules = List.copyOf(rules);
    }

    /** The chain names this block declares. */
    public List<String> chainNames() {
      return chains.stream().map(c -> c.substring(1, c.indexOf(' '))).toList();
    }
  }

  /**
   * {@code services} is taken over, not copied (a render at 10,000 Services would copy 10,000
   * entries on every change): the caller hands over a map it no longer changes.
   */
  public IptablesRuleset {
    services = Collections.unmodifiableMap(services);
    jumps = List.copyOf(jumps);
  }

  /** A ruleset given as plain restore input (a fixture or hand-written rules). */
  public static IptablesRuleset ofRestoreInput(String input, List<JumpRule> jumps) {
    int nat = input.indexOf("*nat\n");
    String filter = nat < 0 ? input : input.substring(0, nat);
    List<String> chains = new ArrayList<>();
    List<String> rules = new ArrayList<>();
    if (nat >= 0) {
      for (String line : input.substring(nat + 5).split("\n")) {
        if (line.startsWith(":")) {
          chains.add(line);
        } else if (!line.isBlank() && !line.equals("COMMIT")) {
          rules.add(line);
        }
      }
    }
    return new IptablesRuleset(filter, new ChainBlock(chains, rules), Map.of(), jumps);
  }

  /** The whole restore input. */
  public String restoreInput() {
    return restoreInput(services.keySet(), Set.of());
  }

  /**
   * Restore input that rewrites the filter table, the dispatch chains and the service blocks named
   * in {@code write}, and deletes {@code deleteChains}; other chains stay as they are.
   */
  public String restoreInput(Set<String> write, Set<String> deleteChains) {
    StringBuilder sb = new StringBuilder(filterTable);
    sb.append("*nat\n");
    natDispatch.chains().forEach(l -> sb.append(l).append('\n'));
    for (String key : write) {
      ChainBlock b = services.get(key);
      if (b != null) {
        b.chains().forEach(l -> sb.append(l).append('\n'));
      }
    }
    deleteChains.forEach(c -> sb.append(':').append(c).append(" - [0:0]\n"));
    natDispatch.rules().forEach(l -> sb.append(l).append('\n'));
    for (String key : write) {
      ChainBlock b = services.get(key);
      if (b != null) {
        b.rules().forEach(l -> sb.append(l).append('\n'));
      }
    }
    deleteChains.forEach(c -> sb.append("-X ").append(c).append('\n'));
    return sb.append("COMMIT\n").toString();
  }

  /**
   * The whole ruleset as one text: jump rules as comments (restore ignores them), then the input.
   */
  public String render() {
    StringBuilder sb = new StringBuilder();
    sb.append(
        "# Jump rules, inserted at the top of the built-in chains (iptables -t TABLE -I CHAIN ...):\n");
    for (JumpRule j : jumps) {
      sb.append("#   -t ")
          .append(j.table())
          .append(" -I ")
          .append(j.chain())
          .append(' ')
          .append(String.join(" ", j.args()))
          .append('\n');
    }
    return sb.append(restoreInput()).toString();
  }
}
