package dev.tweed.kernel.netfilter;

import java.util.List;

/** One option of a match or target, e.g. {@code ! --dport 80} or {@code --match-set S src}. */
public record XtOption(String name, boolean negated, List<String> args) {
  public String arg() {
    return args.isEmpty() ? "" : args.get(0);
  }
}
