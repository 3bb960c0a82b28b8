package dev.tweed.kernel.netfilter;

import java.util.List;
import java.util.Optional;

/**
 * What a rule does when it matches: {@code -j NAME [options]} or {@code -g CHAIN}; absent in a rule
 * that only counts.
 */
public record XtTarget(String name, boolean isGoto, List<XtOption> options) {
  public Optional<XtOption> option(String name) {
    return options.stream().filter(o -> o.name().equals(name)).findFirst();
  }
}
