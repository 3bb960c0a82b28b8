package dev.tweed.trace;

import dev.tweed.kernel.Packet;
import dev.tweed.kernel.netfilter.NatTranslation;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A packet on its way, and everything said about it so far. Immutable: a random fork copies it.
 *
 * @param original the packet as the current namespace's conntrack first saw it
 * @param dstMac the destination MAC of the frame on the wire, once resolved
 * @param inner for a VXLAN-encapsulated packet: the packet inside and its frame's MAC
 */
record Walk(
    Packet packet,
    Packet original,
    boolean dnat,
    boolean snat,
    String ctState,
    Optional<String> dstMac,
    Optional<Inner> inner,
    double probability,
    List<Integer> forks,
    List<Hop> hops,
    List<NatTranslation> nat,
    List<String> uncertainties) {

  /** The encapsulated packet of a VXLAN frame. */
  record Inner(Packet packet, String dstMac) {}

  static Walk start(Packet p) {
    return new Walk(
        p,
        p,
        false,
        false,
        "NEW",
        Optional.empty(),
        Optional.empty(),
        1.0,
        List.of(),
        List.of(),
        List.of(),
        List.of());
  }

  private static <T> List<T> plus(List<T> l, T x) {
    List<T> out = new ArrayList<>(l);
    out.add(x);
    return List.copyOf(out);
  }

  private static <T> List<T> plusAll(List<T> l, List<T> x) {
    List<T> out = new ArrayList<>(l);
    out.addAll(x);
    return List.copyOf(out);
  }

  Walk hop(Hop h) {
    return new Walk(
        packet,
        original,
        dnat,
        snat,
        ctState,
        dstMac,
        inner,
        probability,
        forks,
        plus(hops, h),
        nat,
        uncertainties);
  }

  Walk uncertain(String why) {
    return uncertainties.contains(why)
        ? this
        : new Walk(
            packet,
            original,
            dnat,
            snat,
            ctState,
            dstMac,
            inner,
            probability,
            forks,
            hops,
            nat,
            plus(uncertainties, why));
  }

  Walk withPacket(Packet p) {
    return new Walk(
        p,
        original,
        dnat,
        snat,
        ctState,
        dstMac,
        inner,
        probability,
        forks,
        hops,
        nat,
        uncertainties);
  }

  Walk withMac(String mac) {
    return new Walk(
        packet,
        original,
        dnat,
        snat,
        ctState,
        Optional.of(mac),
        inner,
        probability,
        forks,
        hops,
        nat,
        uncertainties);
  }

  /** Enters a new namespace: its conntrack sees a new flow, and the skb mark is scrubbed. */
  Walk enterNamespace() {
    Packet p = packet.withMark(0).withCtMark(0);
    return new Walk(
        p, p, false, false, "NEW", dstMac, inner, probability, forks, hops, nat, uncertainties);
  }

  Walk netfilter(
      Packet p,
      boolean dnat,
      boolean snat,
      String ctState,
      double probability,
      List<Integer> newForks,
      List<Hop> newHops,
      List<NatTranslation> newNat,
      List<String> newUncertain) {
    Walk w =
        new Walk(
            p,
            original,
            dnat,
            snat,
            ctState,
            dstMac,
            inner,
            this.probability * probability,
            plusAll(forks, newForks),
            plusAll(hops, newHops),
            plusAll(nat, newNat),
            uncertainties);
    for (String u : newUncertain) {
      w = w.uncertain(u);
    }
    return w;
  }

  /** Branch {@code branch} of a fork the walk cannot decide, taken with probability {@code p}. */
  Walk fork(int branch, double p) {
    return new Walk(
        packet,
        original,
        dnat,
        snat,
        ctState,
        dstMac,
        inner,
        probability * p,
        plus(forks, branch),
        hops,
        nat,
        uncertainties);
  }

  Walk encapsulate(Packet outer) {
    return new Walk(
        outer,
        outer,
        false,
        false,
        "NEW",
        Optional.empty(),
        Optional.of(new Inner(packet, dstMac.orElse(""))),
        probability,
        forks,
        hops,
        nat,
        uncertainties);
  }

  Walk decapsulate() {
    Inner in = inner.orElseThrow();
    return new Walk(
        in.packet(),
        in.packet(),
        false,
        false,
        "NEW",
        Optional.of(in.dstMac()),
        Optional.empty(),
        probability,
        forks,
        hops,
        nat,
        uncertainties);
  }
}
