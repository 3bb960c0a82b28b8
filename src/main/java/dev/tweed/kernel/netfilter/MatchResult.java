package dev.tweed.kernel.netfilter;

/** The outcome of a rule's matches for one packet. */
public sealed interface MatchResult {
  /** Every match holds. */
  record Yes() implements MatchResult {}

  /** Some match does not hold. */
  record No() implements MatchResult {}

  /** A random match ({@code statistic --mode random}): holds with probability {@code p}. */
  record Fork(double probability, String why) implements MatchResult {}

  /** A match the model cannot evaluate: treated as no match, and the verdict is uncertain. */
  record Unknown(String why) implements MatchResult {}

  MatchResult YES = new Yes();
  MatchResult NO = new No();
}
