package dev.tweed.kernel.netfilter;

import java.util.List;
import java.util.Optional;

/**
 * One match of a rule: the basic match ({@code module} "", options -s -d -i -o -p -f) or a {@code
 * -m MODULE} with its options.
 */
public record XtMatch(String module, List<XtOption> options) {
  public Optional<XtOption> option(String name) {
    return options.stream().filter(o -> o.name().equals(name)).findFirst();
  }
}
