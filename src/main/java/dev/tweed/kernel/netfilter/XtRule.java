package dev.tweed.kernel.netfilter;

import java.util.List;
import java.util.Optional;

/**
 * One rule of a chain.
 *
 * @param position 1-based, as {@code iptables -L --line-numbers} counts
 * @param text the rule exactly as {@code iptables-save} printed it
 */
public record XtRule(
    String chain, int position, List<XtMatch> matches, Optional<XtTarget> target, String text) {}
