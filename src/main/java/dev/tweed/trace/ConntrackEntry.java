package dev.tweed.trace;

import dev.tweed.kernel.Packet;

/**
 * A connection a namespace's conntrack recorded for the traced packet: the packet as it first saw
 * it, and as it left (after NAT). A reply is recognised by being the reverse of {@code translated}
 * and translated back to the reverse of {@code original}.
 */
public record ConntrackEntry(String netns, Packet original, Packet translated) {

  /** Is {@code p} this connection's reply, as it arrives in the namespace? */
  boolean isReply(String ns, Packet p) {
    return netns.equals(ns)
        && p.proto().equals(translated.proto())
        && p.src().equals(translated.dst())
        && p.dst().equals(translated.src())
        && (!p.hasPorts() || (p.sport() == translated.dport() && p.dport() == translated.sport()));
  }

  /** The reply's source rewritten back (un-DNAT): what the sender first addressed. */
  boolean dnat() {
    return !original.dst().equals(translated.dst()) || original.dport() != translated.dport();
  }

  /** The reply's destination rewritten back (un-SNAT): the sender's own address. */
  boolean snat() {
    return !original.src().equals(translated.src()) || original.sport() != translated.sport();
  }
}
