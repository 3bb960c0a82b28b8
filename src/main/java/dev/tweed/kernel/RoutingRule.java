package dev.tweed.kernel;

import dev.tweed.model.Cidr;
import dev.tweed.model.IpFamily;
import java.util.Optional;

/**
 * One policy routing rule of a family ({@code ip -j rule}, {@code ip -6 -j rule}).
 *
 * @param action "lookup" (then {@code table} says which), or unreachable, blackhole, prohibit, goto
 */
public record RoutingRule(
    IpFamily family,
    int priority,
    boolean not,
    Optional<Cidr> src,
    Optional<Cidr> dst,
    Optional<Long> fwmark,
    long fwmask,
    Optional<String> iif,
    Optional<String> oif,
    String action,
    String table,
    String text) {}
