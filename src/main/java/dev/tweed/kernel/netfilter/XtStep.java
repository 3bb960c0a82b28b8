package dev.tweed.kernel.netfilter;

import java.util.Optional;

/**
 * One thing netfilter did with the packet: a rule that matched (with its position and text), a
 * chain's policy, or the fall off a chain's end.
 *
 * @param position the rule's 1-based position; empty for a policy or a chain's end
 * @param action what followed: "jump KUBE-SERVICES", "DNAT 10.96.0.10:80 -> 10.244.1.5:8080",
 *     "policy ACCEPT", "return", ...
 */
public record XtStep(
    String table,
    String chain,
    Optional<Integer> position,
    Optional<String> rule,
    String action,
    Optional<String> note) {

  /** A base chain's policy applied: the traversal fell off its end. */
  public static XtStep policy(String table, String chain, String policy) {
    return new XtStep(
        table, chain, Optional.empty(), Optional.empty(), "policy " + policy, Optional.empty());
  }
}
