package dev.tweed.kernel.nftables;

import java.util.Optional;

/**
 * One line of {@code nft -a monitor trace}: what a base or user chain did with a traced packet.
 *
 * @param id the kernel's trace id; the same skb keeps it across the hooks of one namespace
 * @param kind PACKET (the header as the chain saw it), RULE (a rule matched), POLICY (a base
 *     chain's policy applied), RETURN (a chain ended without a verdict)
 * @param handle the matched rule's handle (RULE only)
 * @param verdict what followed: "accept", "drop", "continue", "jump KUBE-SERVICES", "return"...
 * @param header the packet (PACKET only)
 * @param text the rule as nft prints it (RULE), otherwise the line's tail
 */
public record NftTraceEvent(
    String id,
    String family,
    String table,
    String chain,
    Kind kind,
    Optional<Long> handle,
    String verdict,
    Optional<Header> header,
    String text) {

  public enum Kind {
    PACKET,
    RULE,
    POLICY,
    RETURN
  }

  /**
   * The IPv4 header fields a trace prints. Ports are 0 where the protocol has none.
   *
   * @param proto tcp, udp, icmp or the number nft printed
   */
  public record Header(String src, String dst, String proto, int sport, int dport) {}
}
