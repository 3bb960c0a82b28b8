package dev.tweed.kernel.netfilter;

import java.util.Map;
import java.util.Optional;

/** One table of an {@code iptables-save} dump: raw, mangle, nat, filter or security. */
public record XtTable(String name, Map<String, XtChain> chains) {
  public Optional<XtChain> chain(String name) {
    return Optional.ofNullable(chains.get(name));
  }
}
