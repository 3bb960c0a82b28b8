package dev.tweed.trace;

import dev.tweed.kernel.Packet;
import dev.tweed.kernel.netfilter.NatTranslation;
import dev.tweed.trace.bpf.ProgramConnection;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A packet on its way, and everything said about it so far. Immutable: a random fork copies it.
 *
 * @param original the packet as the current namespace's conntrack first saw it
 * @param dstMac the destination MAC of the frame on the wire, once resolved
 * @param inner for a VXLAN-encapsulated packet: the packet inside and its frame's MAC
 * @param reply the walk follows a connection's reply back to its sender
 * @param conntrack the connections the forward packet left in each namespace it crossed
 * @param programConnections the connections Tweed's tc programs recorded for it (their {@code
 *     tw_ct}), in each namespace where one ran
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
    List<String> uncertainties,
    boolean reply,
    List<ConntrackEntry> conntrack,
    List<ProgramConnection> programConnections) {

  /** The encapsulated packet of a VXLAN frame. */
  record Inner(Packet packet, String dstMac) {}

  static Walk start(Packet p) {
    List<ProgramConnection> programConnections = List.of();
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
        List.of(),
        false,
        List.of(),
        programConnections);
  }

  /**
   * A connection's reply, sent from the namespace that received the forward packet: conntrack knows
   * it there (ESTABLISHED) and undoes the forward packet's NAT on the way back.
   */
  static Walk startReply(
      Packet p,
      List<ConntrackEntry> conntrack,
      List<ProgramConnection> programConnections,
      String netns) {
    Walk w =
        new Walk(
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
            List.of(),
            true,
            conntrack,
            programConnections);
    return w.withState(netns);
  }

  /** The connection the reply belongs to in {@code netns}, as conntrack first saw the packet. */
  Optional<ConntrackEntry> entry(String netns) {
    return reply
        ? conntrack.stream().filter(e -> e.isReply(netns, original)).findFirst()
        : Optional.empty();
  }

  private Walk withState(String netns) {
    String state = reply && entry(netns).isPresent() ? "ESTABLISHED" : "NEW";
    return new Walk(
        packet,
        original,
        dnat,
        snat,
        state,
        dstMac,
        inner,
        probability,
        forks,
        hops,
        nat,
        uncertainties,
        reply,
        conntrack,
        programConnections);
  }

  /** The forward packet leaves {@code netns}: conntrack there keeps the connection. */
  private List<ConntrackEntry> remembered(String netns) {
    return reply ? conntrack : plus(conntrack, new ConntrackEntry(netns, original, packet));
  }

  /** Where the forward journey ends: the connection the receiving namespace holds, last. */
  List<ConntrackEntry> conntrackAt(String netns) {
    return remembered(netns);
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
        uncertainties,
        reply,
        conntrack,
        programConnections);
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
            plus(uncertainties, why),
            reply,
            conntrack,
            programConnections);
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
        uncertainties,
        reply,
        conntrack,
        programConnections);
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
        uncertainties,
        reply,
        conntrack,
        programConnections);
  }

  /**
   * Leaves {@code from} for {@code to}: the skb mark is scrubbed, and {@code to}'s conntrack sees a
   * new flow, or (for a reply) the connection the forward packet left there.
   */
  Walk enterNamespace(String from, String to) {
    Packet p = packet.withMark(0).withCtMark(0);
    return new Walk(
            p,
            p,
            false,
            false,
            "NEW",
            dstMac,
            inner,
            probability,
            forks,
            hops,
            nat,
            uncertainties,
            reply,
            remembered(from),
            programConnections)
        .withState(to);
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
            uncertainties,
            reply,
            conntrack,
            programConnections);
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
        uncertainties,
        reply,
        conntrack,
        programConnections);
  }

  /** In {@code netns}: the packet goes inside {@code outer}, a flow of its own. */
  Walk encapsulate(Packet outer, String netns) {
    List<ConntrackEntry> kept = remembered(netns);
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
        uncertainties,
        reply,
        kept,
        programConnections);
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
        uncertainties,
        reply,
        conntrack,
        programConnections);
  }

  /** A tc program's run: its packet, its probability, its hop and its translations. */
  Walk program(
      Packet p, double probability, List<Integer> newForks, Hop hop, List<NatTranslation> newNat) {
    return netfilter(
        p, dnat, snat, ctState, probability, newForks, List.of(hop), newNat, List.of());
  }

  /** The connections a program recorded in {@code netns} for this journey. */
  List<ProgramConnection> programConnections(String netns) {
    return programConnections.stream().filter(c -> c.netns().equals(netns)).toList();
  }

  Walk withProgramConnections(List<ProgramConnection> added) {
    if (added.isEmpty()) {
      return this;
    }
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
        hops,
        nat,
        uncertainties,
        reply,
        conntrack,
        plusAll(programConnections, added));
  }
}
