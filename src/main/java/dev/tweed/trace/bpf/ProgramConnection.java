package dev.tweed.trace.bpf;

import dev.tweed.ebpf.DatapathMaps;

/**
 * A connection a program recorded in its node's {@code tw_ct} for the traced packet: what later
 * packets of the journey (its reply above all) find there.
 */
public record ProgramConnection(String netns, DatapathMaps.Connection connection) {
  /** The map's key in words, as {@link BpfState#conntrack()} is keyed. */
  public String key() {
    DatapathMaps.Connection c = connection;
    return BpfState.tupleKey(
        c.protocol(), c.source(), c.sourcePort(), c.destination(), c.destinationPort());
  }
}
