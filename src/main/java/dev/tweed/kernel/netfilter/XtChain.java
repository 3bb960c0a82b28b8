package dev.tweed.kernel.netfilter;

import java.util.List;
import java.util.Optional;

/** A chain; a built-in chain has a policy. */
public record XtChain(String name, Optional<String> policy, List<XtRule> rules) {}
