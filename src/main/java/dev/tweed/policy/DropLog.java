package dev.tweed.policy;

import dev.tweed.rules.nft.NftStatement;
import java.util.Optional;

/**
 * What the policy tables log before they drop a packet, so the agent can tell the flows it denied
 * ({@code tweed observe}): each drop rule first hands the packet's headers to netlink log group
 * {@value #GROUP}, with a prefix naming the reason and the direction ({@code
 * tweed:policy-denied:ingress}), as Calico's felix does with its NFLOG groups. Without a listener
 * the kernel discards them.
 */
public final class DropLog {
  /** The netlink log group the drop rules send to. */
  public static final int GROUP = 100;

  /** How much of the packet is copied: its IP and transport headers. */
  public static final int SNAPLEN = 128;

  private static final String PREFIX = "tweed:";

  /** A logged drop: why (as {@code tw_counts} names it) and the direction the rule concerned. */
  public record Reason(String reason, String direction) {}

  private DropLog() {}

  public static String prefix(String reason, String direction) {
    return PREFIX + reason + ":" + direction;
  }

  /** The iptables target that logs a drop. */
  public static String iptablesTarget(String reason, String direction) {
    return "-j NFLOG --nflog-prefix \""
        + prefix(reason, direction)
        + "\" --nflog-group "
        + GROUP
        + " --nflog-size "
        + SNAPLEN;
  }

  /** The nftables statement that logs a drop (before the rule's {@code drop}). */
  public static NftStatement.Log nftablesStatement(String reason, String direction) {
    return new NftStatement.Log(prefix(reason, direction), GROUP, SNAPLEN);
  }

  public static Optional<Reason> parse(String prefix) {
    if (!prefix.startsWith(PREFIX)) {
      return Optional.empty();
    }
    String[] f = prefix.substring(PREFIX.length()).split(":", 2);
    return f.length == 2 ? Optional.of(new Reason(f[0], f[1])) : Optional.empty();
  }
}
