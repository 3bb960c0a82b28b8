package dev.tweed.trace.verify;

/**
 * A rule that matched the packet, on the model's side or the kernel's. Two steps are the same step
 * when namespace, table, chain and position agree; the texts are for people. Position 0 is a kernel
 * rule whose position could not be read (its chain was rewritten before the trace was read): it is
 * the same as any rule of its chain, since an unreadable position is no evidence of a different
 * path.
 *
 * @param rule the rule as the side printed it ({@code iptables-save} form for the model, {@code
 *     nft} form for the kernel's trace)
 * @param outcome the rule's verdict or action
 */
public record PathStep(
    String netns, String table, String chain, int position, String rule, String outcome) {

  boolean sameAs(PathStep o) {
    return netns.equals(o.netns)
        && table.equals(o.table)
        && chain.equals(o.chain)
        && (position == o.position || position == UNKNOWN || o.position == UNKNOWN);
  }

  /** The position of a rule that is gone from the ruleset by the time it was looked up. */
  public static final int UNKNOWN = 0;

  boolean positionUnknown() {
    return position == UNKNOWN;
  }

  String where() {
    return table + "/" + chain + " #" + position;
  }
}
