package dev.tweed.trace;

import dev.tweed.kernel.NetnsState;
import dev.tweed.kernel.Packet;
import java.util.Optional;

/**
 * Conntrack's part for a reply: the translation its connection got, undone where the kernel does.
 */
final class ConntrackNat {
  private ConntrackNat() {}

  /**
   * A reply passing the nat hooks' place in PREROUTING or OUTPUT: conntrack gives it back the
   * address the connection's sender had before SNAT/MASQUERADE changed it.
   */
  static Walk unSnat(NetnsState ns, Walk w) {
    return undoNat(ns, w, false);
  }

  /** A reply leaving by POSTROUTING or INPUT: its source goes back to what was addressed. */
  static Walk unDnat(NetnsState ns, Walk w) {
    return undoNat(ns, w, true);
  }

  private static Walk undoNat(NetnsState ns, Walk w, boolean dnat) {
    Optional<ConntrackEntry> e = w.entry(ns.name());
    if (e.isEmpty() || !(dnat ? e.get().dnat() : e.get().snat())) {
      return w;
    }
    Packet o = e.get().original();
    Packet p = w.packet();
    Packet back =
        dnat
            ? p.withSrc(o.dst(), Optional.of(o.dport()))
            : p.withDst(o.src(), Optional.of(o.sport()));
    String before = dnat ? p.srcEndpoint() : p.dstEndpoint();
    String after = dnat ? back.srcEndpoint() : back.dstEndpoint();
    return w.withPacket(back)
        .hop(
            Hop.of(
                ns.name(),
                "conntrack",
                Optional.empty(),
                "reply of a translated connection: "
                    + (dnat ? "source " : "destination ")
                    + before
                    + " -> "
                    + after));
  }
}
