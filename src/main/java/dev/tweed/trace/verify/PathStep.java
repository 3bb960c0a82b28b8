package dev.tweed.trace.verify;

/**
 * A rule that matched the packet, on the model's side or the kernel's. Two steps are the same step
 * when namespace, table, chain and position agree; the texts are for people.
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
        && position == o.position;
  }

  String where() {
    return table + "/" + chain + " #" + position;
  }
}
