package dev.tweed.proxy;

import java.util.List;

/**
 * A rendered ruleset: the {@code iptables-restore --noflush} input for the filter and nat tables,
 * and the jump rules from the built-in chains, which kube-proxy ensures one by one (inserted at the
 * top) because a restore must not own the built-in chains.
 */
public record IptablesRuleset(String restoreInput, List<JumpRule> jumps) {
  /** {@code iptables -t TABLE -I CHAIN ARGS...}. */
  public record JumpRule(String table, String chain, List<String> args) {
    public JumpRule {
      args = List.copyOf(args);
    }
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
    return sb.append(restoreInput).toString();
  }
}
