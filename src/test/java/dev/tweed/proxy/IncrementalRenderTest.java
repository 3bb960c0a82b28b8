package dev.tweed.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tweed.rules.BlockChange;
import dev.tweed.rules.NftablesRuleset;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.BiFunction;
import java.util.function.Function;
import java.util.function.Supplier;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Both renderers fed one changed Service at a time, as the agent feeds them, against a fresh
 * renderer given every Service: after every random change the ruleset is the same, and the changes
 * reported are exactly the blocks that differ from the ruleset before, with their old and new
 * content.
 */
class IncrementalRenderTest {
  private static final ProxyNode NODE =
      new ProxyNode("node-1", "10.244.0.0/16", List.of("172.31.0.11"));

  @ParameterizedTest(name = "seed {0}")
  @ValueSource(longs = {1, 2, 3, 4, 5})
  void iptablesRulesetAfterEachChangeIsTheWholeRender(long seed) {
    everyChangeIsTheWholeRender(
        seed,
        () -> new IptablesServiceRenderer(NODE),
        IptablesServiceRenderer::render,
        IptablesServiceRenderer::update,
        IptablesRuleset::services);
  }

  @ParameterizedTest(name = "seed {0}")
  @ValueSource(longs = {1, 2, 3, 4, 5})
  void nftablesRulesetAfterEachChangeIsTheWholeRender(long seed) {
    everyChangeIsTheWholeRender(
        seed,
        () -> new NftablesServiceRenderer(NODE, "10.96.0.0/16"),
        NftablesServiceRenderer::render,
        NftablesServiceRenderer::update,
        NftablesRuleset::services);
  }

  /**
   * 200 random changes, one Service each, fed to one renderer; after each, its ruleset equals a
   * fresh renderer's whole render, and its changes are the blocks that differ from the one before.
   */
  private static <T, S, R> void everyChangeIsTheWholeRender(
      long seed,
      Supplier<T> renderer,
      BiFunction<T, List<ServicePort>, S> render,
      BiFunction<T, Map<String, List<ServicePort>>, RulesetUpdate<S, R>> update,
      Function<S, Map<String, R>> blocks) {
    Random random = new Random(seed);
    TreeMap<String, List<ServicePort>> services = services(random);
    T incremental = renderer.get();
    S before = render.apply(incremental, RandomServices.ports(services));
    for (int step = 0; step < 200; step++) {
      String changed = RandomServices.changeOne(random, services);
      var u =
          update.apply(
              incremental,
              Map.of(changed, services.getOrDefault(RandomServices.name(changed), List.of())));
      S whole = render.apply(renderer.get(), RandomServices.ports(services));
      assertThat(u.ruleset()).as("seed %d step %d", seed, step).isEqualTo(whole);
      assertThat(changedBlocks(u.changes(), blocks.apply(before), blocks.apply(whole)))
          .as("seed %d step %d", seed, step)
          .isTrue();
      before = whole;
    }
  }

  private static TreeMap<String, List<ServicePort>> services(Random random) {
    TreeMap<String, List<ServicePort>> services = new TreeMap<>();
    for (int i = 0; i < 12; i++) {
      services.put("svc" + i, RandomServices.service(random, i));
    }
    return services;
  }

  /** True when {@code changes} are the blocks that differ, each with its content before and now. */
  private static <R> boolean changedBlocks(
      List<BlockChange<R>> changes, Map<String, R> before, Map<String, R> after) {
    Set<String> differ = new HashSet<>(before.keySet());
    differ.addAll(after.keySet());
    differ.removeIf(k -> Objects.equals(before.get(k), after.get(k)));
    Set<String> reported = new HashSet<>();
    for (BlockChange<R> c : changes) {
      reported.add(c.block());
      if (!c.before().equals(Optional.ofNullable(before.get(c.block())))
          || !c.after().equals(Optional.ofNullable(after.get(c.block())))) {
        return false;
      }
    }
    return reported.equals(differ) && reported.size() == changes.size();
  }
}
