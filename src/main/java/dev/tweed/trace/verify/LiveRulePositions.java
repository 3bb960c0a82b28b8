package dev.tweed.trace.verify;

import dev.tweed.kernel.nftables.NftRuleIndex;
import dev.tweed.model.Json;
import dev.tweed.sys.Command;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Rule positions read from the kernel when first asked, once per namespace: a checker makes one per
 * packet. A capture's positions can be stale: an agent's full sync rewrites chains (new handles),
 * and a table deleted and created again numbers its rules from the start, so a handle may even name
 * another rule than it did when the capture (or the trace monitor) read it.
 */
public final class LiveRulePositions implements RulePositions {
  private final Map<String, NftRuleIndex> indexes = new ConcurrentHashMap<>();

  @Override
  public Optional<Integer> position(
      String netns, String family, String table, String chain, long handle) {
    return index(netns).position(family, table, chain, handle);
  }

  @Override
  public Optional<String> text(
      String netns, String family, String table, String chain, long handle) {
    return index(netns).text(family, table, chain, handle);
  }

  private NftRuleIndex index(String netns) {
    return indexes.computeIfAbsent(
        netns,
        n ->
            new NftRuleIndex(
                Json.parse(
                    Command.run(
                        List.of("ip", "netns", "exec", n, "nft", "-j", "list", "ruleset")))));
  }
}
