package dev.tweed.trace;

import dev.tweed.kernel.Packet;
import dev.tweed.trace.bpf.ProgramRun;
import java.util.Optional;

/**
 * One step of a packet's journey.
 *
 * @param netns the namespace where it happened
 * @param step what kind of step: send, route, netfilter, bpf, neighbour, fdb, veth, bridge,
 *     vxlan-encap, vxlan-decap, deliver, drop, reject, forward, note
 * @param iface the interface involved, where one is
 * @param hook netfilter: PREROUTING, INPUT, FORWARD, OUTPUT or POSTROUTING
 * @param table netfilter table, or the routing table for a route step
 * @param chain netfilter chain
 * @param position the rule's 1-based position in its chain
 * @param rule the rule or route exactly as {@code iptables-save} / {@code ip route} print it
 * @param detail what happened, in words
 * @param packet netfilter: the packet's header as it entered the table (before its NAT); what
 *     {@code --verify} matches the kernel's trace events against
 * @param natChain netfilter: the rule is in a NAT chain (iptables' nat table, an nftables chain of
 *     type nat), which the kernel runs only for a connection's first packet
 * @param bpf a {@code bpf} step: the tc program's run (its lookups and action)
 */
public record Hop(
    String netns,
    String step,
    Optional<String> iface,
    Optional<String> hook,
    Optional<String> table,
    Optional<String> chain,
    Optional<Integer> position,
    Optional<String> rule,
    String detail,
    Optional<Packet> packet,
    boolean natChain,
    Optional<ProgramRun> bpf) {

  static Hop of(String netns, String step, Optional<String> iface, String detail) {
    return new Hop(
        netns,
        step,
        iface,
        Optional.empty(),
        Optional.empty(),
        Optional.empty(),
        Optional.empty(),
        Optional.empty(),
        detail,
        Optional.empty(),
        false,
        Optional.empty());
  }

  static Hop route(String netns, String table, String route, String detail) {
    return new Hop(
        netns,
        "route",
        Optional.empty(),
        Optional.empty(),
        Optional.of(table),
        Optional.empty(),
        Optional.empty(),
        Optional.of(route),
        detail,
        Optional.empty(),
        false,
        Optional.empty());
  }

  /** A tc program's run on {@code device}. */
  static Hop program(String netns, ProgramRun run, String detail) {
    return new Hop(
        netns,
        "bpf",
        Optional.of(run.device()),
        Optional.of(run.hook()),
        Optional.empty(),
        Optional.empty(),
        Optional.empty(),
        Optional.empty(),
        detail,
        Optional.of(run.packet()),
        false,
        Optional.of(run));
  }
}
