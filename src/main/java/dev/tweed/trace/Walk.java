package dev.tweed.trace;

import dev.tweed.kernel.Packet;
import dev.tweed.kernel.netfilter.NatTranslation;
import dev.tweed.trace.bpf.ProgramConnection;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A packet on its way, and everything said about it so far. Immutable: a random fork copies it. Its
 * state comes in four parts that change at different moments: what the current namespace's
 * conntrack knows of the flow ({@link Ct}), the frame around the packet ({@link Frame}), the story
 * told so far ({@link Story}), and the connections left behind for a reply ({@link Memory}).
 */
record Walk(Packet packet, Walk.Ct ct, Walk.Frame frame, Walk.Story story, Walk.Memory memory) {

  /**
   * The current namespace's conntrack view of the flow.
   *
   * @param original the packet as this namespace's conntrack first saw it
   */
  record Ct(Packet original, boolean dnat, boolean snat, String state) {
    /** A flow this namespace has not seen translated yet. */
    static Ct fresh(Packet p) {
      return new Ct(p, false, false, "NEW");
    }

    Ct withState(String s) {
      return new Ct(original, dnat, snat, s);
    }
  }

  /**
   * The frame around the packet.
   *
   * @param dstMac the destination MAC on the wire, once resolved
   * @param inner for a VXLAN-encapsulated packet: the packet inside and its frame's MAC
   */
  record Frame(Optional<String> dstMac, Optional<Inner> inner) {
    static final Frame NONE = new Frame(Optional.empty(), Optional.empty());

    Frame withMac(String mac) {
      return new Frame(Optional.of(mac), inner);
    }
  }

  /** The encapsulated packet of a VXLAN frame. */
  record Inner(Packet packet, String dstMac) {}

  /** What has been said so far: the path's probability, forks taken, hops, translations, doubts. */
  record Story(
      double probability,
      List<Integer> forks,
      List<Hop> hops,
      List<NatTranslation> nat,
      List<String> uncertainties) {
    static final Story START = new Story(1.0, List.of(), List.of(), List.of(), List.of());

    Story hop(Hop h) {
      return new Story(probability, forks, plus(hops, h), nat, uncertainties);
    }

    Story uncertain(String why) {
      return uncertainties.contains(why)
          ? this
          : new Story(probability, forks, hops, nat, plus(uncertainties, why));
    }

    Story fork(int branch, double p) {
      return new Story(probability * p, plus(forks, branch), hops, nat, uncertainties);
    }

    Story then(double p, List<Integer> newForks, List<Hop> newHops, List<NatTranslation> newNat) {
      return new Story(
          probability * p,
          plusAll(forks, newForks),
          plusAll(hops, newHops),
          plusAll(nat, newNat),
          uncertainties);
    }
  }

  /**
   * What the journey leaves behind for a reply.
   *
   * @param reply the walk follows a connection's reply back to its sender
   * @param conntrack the connections the forward packet left in each namespace it crossed
   * @param programConnections the connections Tweed's tc programs recorded for it (their {@code
   *     tw_ct}), in each namespace where one ran
   */
  record Memory(
      boolean reply, List<ConntrackEntry> conntrack, List<ProgramConnection> programConnections) {
    Memory withConntrack(List<ConntrackEntry> c) {
      return new Memory(reply, c, programConnections);
    }
  }

  static Walk start(Packet p) {
    return new Walk(
        p, Ct.fresh(p), Frame.NONE, Story.START, new Memory(false, List.of(), List.of()));
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
    return new Walk(
            p,
            Ct.fresh(p),
            Frame.NONE,
            Story.START,
            new Memory(true, conntrack, programConnections))
        .withState(netns);
  }

  Packet original() {
    return ct.original();
  }

  boolean dnat() {
    return ct.dnat();
  }

  boolean snat() {
    return ct.snat();
  }

  String ctState() {
    return ct.state();
  }

  Optional<String> dstMac() {
    return frame.dstMac();
  }

  Optional<Inner> inner() {
    return frame.inner();
  }

  double probability() {
    return story.probability();
  }

  List<Integer> forks() {
    return story.forks();
  }

  List<Hop> hops() {
    return story.hops();
  }

  List<NatTranslation> nat() {
    return story.nat();
  }

  List<String> uncertainties() {
    return story.uncertainties();
  }

  boolean reply() {
    return memory.reply();
  }

  List<ConntrackEntry> conntrack() {
    return memory.conntrack();
  }

  List<ProgramConnection> programConnections() {
    return memory.programConnections();
  }

  /** The connection the reply belongs to in {@code netns}, as conntrack first saw the packet. */
  Optional<ConntrackEntry> entry(String netns) {
    return reply()
        ? conntrack().stream().filter(e -> e.isReply(netns, original())).findFirst()
        : Optional.empty();
  }

  private Walk withState(String netns) {
    String state = reply() && entry(netns).isPresent() ? "ESTABLISHED" : "NEW";
    return new Walk(packet, ct.withState(state), frame, story, memory);
  }

  /** The forward packet leaves {@code netns}: conntrack there keeps the connection. */
  private List<ConntrackEntry> remembered(String netns) {
    return reply() ? conntrack() : plus(conntrack(), new ConntrackEntry(netns, original(), packet));
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
    if (x.isEmpty()) {
      return l;
    }
    List<T> out = new ArrayList<>(l);
    out.addAll(x);
    return List.copyOf(out);
  }

  Walk hop(Hop h) {
    return new Walk(packet, ct, frame, story.hop(h), memory);
  }

  Walk uncertain(String why) {
    Story s = story.uncertain(why);
    return s == story ? this : new Walk(packet, ct, frame, s, memory);
  }

  Walk withPacket(Packet p) {
    return new Walk(p, ct, frame, story, memory);
  }

  Walk withMac(String mac) {
    return new Walk(packet, ct, frame.withMac(mac), story, memory);
  }

  /**
   * Leaves {@code from} for {@code to}: the skb mark is scrubbed, and {@code to}'s conntrack sees a
   * new flow, or (for a reply) the connection the forward packet left there.
   */
  Walk enterNamespace(String from, String to) {
    Packet p = packet.withMark(0).withCtMark(0);
    return new Walk(p, Ct.fresh(p), frame, story, memory.withConntrack(remembered(from)))
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
            new Ct(original(), dnat, snat, ctState),
            frame,
            story.then(probability, newForks, newHops, newNat),
            memory);
    for (String u : newUncertain) {
      w = w.uncertain(u);
    }
    return w;
  }

  /** Branch {@code branch} of a fork the walk cannot decide, taken with probability {@code p}. */
  Walk fork(int branch, double p) {
    return new Walk(packet, ct, frame, story.fork(branch, p), memory);
  }

  /** In {@code netns}: the packet goes inside {@code outer}, a flow of its own. */
  Walk encapsulate(Packet outer, String netns) {
    return new Walk(
        outer,
        Ct.fresh(outer),
        new Frame(Optional.empty(), Optional.of(new Inner(packet, dstMac().orElse("")))),
        story,
        memory.withConntrack(remembered(netns)));
  }

  Walk decapsulate() {
    Inner in = inner().orElseThrow();
    return new Walk(
        in.packet(),
        Ct.fresh(in.packet()),
        new Frame(Optional.of(in.dstMac()), Optional.empty()),
        story,
        memory);
  }

  /** A tc program's run: its packet, its probability, its hop and its translations. */
  Walk program(
      Packet p, double probability, List<Integer> newForks, Hop hop, List<NatTranslation> newNat) {
    return netfilter(
        p, dnat(), snat(), ctState(), probability, newForks, List.of(hop), newNat, List.of());
  }

  /** The connections a program recorded in {@code netns} for this journey. */
  List<ProgramConnection> programConnections(String netns) {
    return programConnections().stream().filter(c -> c.netns().equals(netns)).toList();
  }

  Walk withProgramConnections(List<ProgramConnection> added) {
    if (added.isEmpty()) {
      return this;
    }
    return new Walk(
        packet,
        ct,
        frame,
        story,
        new Memory(reply(), conntrack(), plusAll(programConnections(), added)));
  }
}
