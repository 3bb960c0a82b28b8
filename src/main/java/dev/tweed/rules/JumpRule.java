package dev.tweed.rules;

import java.util.List;

/**
 * {@code iptables -t TABLE -I CHAIN ARGS...}: a jump from a built-in chain into a chain of Tweed's,
 * ensured one by one because a restore must not own the built-in chains.
 */
public record JumpRule(String table, String chain, List<String> args) {
  public JumpRule {
    args = List.copyOf(args);
  }
}
