package dev.tweed.trace.verify;

import dev.tweed.kernel.nftables.NftRuleIndex;
import dev.tweed.model.Json;
import dev.tweed.sys.Command;
import dev.tweed.trace.TraceWorld;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Rule positions that follow the kernel: a handle the capture does not know (an agent's full sync
 * rewrote the chain since) makes it list that namespace's ruleset again.
 */
public final class LiveRulePositions implements RulePositions {
  private final Map<String, NftRuleIndex> indexes = new ConcurrentHashMap<>();

  public LiveRulePositions(TraceWorld world) {
    world.namespaces().forEach((n, s) -> indexes.put(n, new NftRuleIndex(s.nftRuleset())));
  }

  @Override
  public Optional<Integer> position(
      String netns, String family, String table, String chain, long handle) {
    NftRuleIndex index = indexes.get(netns);
    Optional<Integer> p =
        index == null ? Optional.empty() : index.position(family, table, chain, handle);
    if (p.isPresent()) {
      return p;
    }
    NftRuleIndex fresh =
        new NftRuleIndex(
            Json.parse(
                Command.run(
                    List.of("ip", "netns", "exec", netns, "nft", "-j", "list", "ruleset"))));
    indexes.put(netns, fresh);
    return fresh.position(family, table, chain, handle);
  }
}
