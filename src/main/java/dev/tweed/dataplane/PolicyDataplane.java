package dev.tweed.dataplane;

import dev.tweed.policy.IptablesPolicyRenderer;
import dev.tweed.policy.IptablesPolicyRuleset;
import dev.tweed.policy.NftablesPolicyRenderer;
import dev.tweed.policy.PolicyIntent;
import dev.tweed.proxy.NftablesRuleset;
import java.util.List;

/**
 * Policy intent to kernel in one mode: the renderer and the writer that belong together (iptables
 * rules with ipsets, or the {@code tweed-policy} nftables table). Rendered rulesets are values:
 * equal renders mean nothing to write.
 */
public sealed interface PolicyDataplane {
  /** The ruleset for {@code intent}, not yet written. */
  Object render(PolicyIntent intent);

  /** Writes a ruleset this dataplane rendered; returns whether the write was a full one. */
  boolean write(Object rendered, boolean full);

  /**
   * "iptables" or "nftables" in the caller's namespace: the agent's. The nftables table is written
   * by netlink batches.
   */
  static PolicyDataplane here(String mode) {
    return switch (mode) {
      case "iptables" -> new Iptables(new PolicyIptablesWriter(List.of()));
      case "nftables" -> new Nftables(NftablesWriter.here());
      default -> throw badMode(mode);
    };
  }

  /** The same in {@code netns}; with {@code nft}, the nftables table is written by nft -f. */
  static PolicyDataplane inNamespace(String mode, String netns, boolean nft) {
    return switch (mode) {
      case "iptables" ->
          new Iptables(new PolicyIptablesWriter(List.of("ip", "netns", "exec", netns)));
      case "nftables" -> new Nftables(NftablesWriter.inNamespace(netns, nft));
      default -> throw badMode(mode);
    };
  }

  private static IllegalArgumentException badMode(String mode) {
    return new IllegalArgumentException("mode must be iptables or nftables, got " + mode);
  }

  /** iptables rules and ipsets. */
  record Iptables(PolicyIptablesWriter writer) implements PolicyDataplane {
    private static final IptablesPolicyRenderer RENDERER = new IptablesPolicyRenderer();

    @Override
    public IptablesPolicyRuleset render(PolicyIntent intent) {
      return RENDERER.render(intent);
    }

    @Override
    public boolean write(Object rendered, boolean full) {
      return writer.sync((IptablesPolicyRuleset) rendered, full).full();
    }
  }

  /** The tweed-policy nftables table. */
  record Nftables(NftablesWriter writer) implements PolicyDataplane {
    private static final NftablesPolicyRenderer RENDERER = new NftablesPolicyRenderer();

    @Override
    public NftablesRuleset render(PolicyIntent intent) {
      return RENDERER.render(intent);
    }

    @Override
    public boolean write(Object rendered, boolean full) {
      return writer.sync((NftablesRuleset) rendered, full).full();
    }
  }
}
