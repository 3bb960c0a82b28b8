package dev.tweed.trace.verify;

import dev.tweed.kernel.nftables.NftRuleIndex;
import dev.tweed.trace.TraceWorld;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/** Where a rule that the kernel's trace names by handle sits in its chain (1-based). */
@FunctionalInterface
public interface RulePositions {
  Optional<Integer> position(String netns, String family, String table, String chain, long handle);

  /** The rule in nft's syntax, where the source knows it better than the trace monitor's cache. */
  default Optional<String> text(
      String netns, String family, String table, String chain, long handle) {
    return Optional.empty();
  }

  /** From the rulesets of a capture. */
  static RulePositions of(TraceWorld world) {
    Map<String, NftRuleIndex> indexes = new ConcurrentHashMap<>();
    return (netns, family, table, chain, handle) ->
        world
            .netns(netns)
            .flatMap(
                s ->
                    indexes
                        .computeIfAbsent(netns, n -> new NftRuleIndex(s.nftRuleset()))
                        .position(family, table, chain, handle));
  }
}
