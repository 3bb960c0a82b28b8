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

  /** "iptables" or "nftables", writing into the namespace {@code commandPrefix} enters. */
  static PolicyDataplane of(String mode, List<String> commandPrefix) {
    return switch (mode) {
      case "iptables" -> new Iptables(new PolicyIptablesWriter(commandPrefix));
      case "nftables" -> new Nftables(new NftablesWriter(commandPrefix));
      default ->
          throw new IllegalArgumentException("mode must be iptables or nftables, got " + mode);
    };
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
