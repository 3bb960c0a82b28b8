package dev.tweed.proxy;

import dev.tweed.rules.BlockChange;
import java.util.List;

/**
 * A render after some Services changed: the whole ruleset (what a full sync writes and {@code proxy
 * render} prints) and the service blocks that changed with it (what a partial sync writes).
 *
 * @param <S> the ruleset
 * @param <R> what one service port's block renders to
 */
public record RulesetUpdate<S, R>(S ruleset, List<BlockChange<R>> changes) {
  public RulesetUpdate {
    changes = List.copyOf(changes);
  }
}
