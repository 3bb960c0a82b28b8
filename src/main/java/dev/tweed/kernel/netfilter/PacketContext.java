package dev.tweed.kernel.netfilter;

import dev.tweed.kernel.NetnsState;
import dev.tweed.kernel.Packet;
import java.util.Optional;

/**
 * What netfilter knows about a packet at a hook: the packet, the interfaces, the connection's
 * state, and the namespace it is in (for address types, sets, recent lists).
 *
 * @param ctState NEW, ESTABLISHED, RELATED, INVALID or UNTRACKED
 * @param original the connection's original direction, before any NAT
 */
public record PacketContext(
    Packet packet,
    String hook,
    Optional<String> iif,
    Optional<String> oif,
    String ctState,
    Packet original,
    boolean dnat,
    boolean snat,
    NetnsState ns,
    IpsetTable ipsets) {}
