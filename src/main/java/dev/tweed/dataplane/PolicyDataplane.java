package dev.tweed.dataplane;

import dev.tweed.model.IpFamily;
import dev.tweed.model.ProxyMode;
import dev.tweed.policy.IptablesPolicyRenderer;
import dev.tweed.policy.IptablesPolicyRuleset;
import dev.tweed.policy.NftablesPolicyRenderer;
import dev.tweed.policy.PolicyIntent;
import dev.tweed.rules.NftablesRuleset;
import java.util.List;

/**
 * Policy intent to kernel in one mode: the renderer and the writer that belong together (iptables
 * rules with ipsets, or the {@code tweed-policy} nftables table). Rendered rulesets are values:
 * equal renders mean nothing to write.
 */
public sealed interface PolicyDataplane<R> {
  /** The family whose rules it writes. */
  IpFamily family();

  /** The ruleset for this family's part of {@code intent}, not yet written. */
  R render(PolicyIntent intent);

  /** Writes a ruleset this dataplane rendered; returns whether the write was a full one. */
  boolean write(R rendered, boolean full);

  /**
   * True when something else may have changed what this dataplane wrote since its last write:
   * nf_tables state by {@code generation}; ipsets, which no generation covers, by each set's number
   * of members.
   */
  boolean kernelMayHaveMoved(RulesetGeneration generation);

  /** In the caller's namespace: the agent's. The nftables table is written by netlink batches. */
  static PolicyDataplane<?> here(ProxyMode mode) {
    return here(mode, IpFamily.IPV4);
  }

  /**
   * {@code family}'s rules in the caller's namespace: iptables or ip6tables, or the {@code ip} or
   * {@code ip6} table.
   */
  static PolicyDataplane<?> here(ProxyMode mode, IpFamily family) {
    return switch (mode) {
      case IPTABLES -> new Iptables(family, new PolicyIptablesWriter(List.of(), family));
      case NFTABLES -> new Nftables(family, NftablesWriter.here());
    };
  }

  /** The same in {@code netns}; with {@code nft}, the nftables table is written by nft -f. */
  static PolicyDataplane<?> inNamespace(ProxyMode mode, String netns, boolean nft) {
    return switch (mode) {
      case IPTABLES ->
          new Iptables(
              IpFamily.IPV4, new PolicyIptablesWriter(List.of("ip", "netns", "exec", netns)));
      case NFTABLES -> new Nftables(IpFamily.IPV4, NftablesWriter.inNamespace(netns, nft));
    };
  }

  /** iptables (or ip6tables) rules and ipsets. */
  record Iptables(IpFamily family, PolicyIptablesWriter writer)
      implements PolicyDataplane<IptablesPolicyRuleset> {
    private static final IptablesPolicyRenderer RENDERER = new IptablesPolicyRenderer();

    @Override
    public IptablesPolicyRuleset render(PolicyIntent intent) {
      return RENDERER.render(intent, family);
    }

    @Override
    public boolean write(IptablesPolicyRuleset rendered, boolean full) {
      return writer.sync(rendered, full).full();
    }

    @Override
    public boolean kernelMayHaveMoved(RulesetGeneration generation) {
      return generation.touchedByOthers() || writer.setSizesMoved();
    }
  }

  /** The tweed-policy nftables table of a family. */
  record Nftables(IpFamily family, NftablesWriter writer)
      implements PolicyDataplane<NftablesRuleset> {
    private static final NftablesPolicyRenderer RENDERER = new NftablesPolicyRenderer();

    @Override
    public NftablesRuleset render(PolicyIntent intent) {
      return RENDERER.render(intent, family);
    }

    @Override
    public boolean write(NftablesRuleset rendered, boolean full) {
      return writer.sync(rendered, full).full();
    }

    @Override
    public boolean kernelMayHaveMoved(RulesetGeneration generation) {
      return generation.touchedByOthers();
    }
  }
}
