package dev.tweed.kernel.netfilter;

import dev.tweed.kernel.Link;
import dev.tweed.kernel.NetnsState;
import dev.tweed.kernel.Packet;
import dev.tweed.model.IpAddress;
import dev.tweed.model.IpFamily;
import java.util.Comparator;
import java.util.Optional;

/**
 * What netfilter knows about a packet at a hook: the packet, the interfaces, the connection's
 * state, and the namespace it is in (for address types, sets, recent lists).
 *
 * @param ctState NEW, ESTABLISHED, RELATED, INVALID or UNTRACKED
 * @param original the connection's original direction, before any NAT
 * @param physIn with br_netfilter: the bridge port a bridged packet came in on ({@code iif} is then
 *     the bridge)
 * @param physOut with br_netfilter: the bridge port a bridged packet goes out of
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
    IpsetTable ipsets,
    Optional<String> physIn,
    Optional<String> physOut) {

  public PacketContext withPacket(Packet p) {
    return new PacketContext(
        p, hook, iif, oif, ctState, original, dnat, snat, ns, ipsets, physIn, physOut);
  }

  public PacketContext untracked() {
    return new PacketContext(
        packet, hook, iif, oif, "UNTRACKED", original, dnat, snat, ns, ipsets, physIn, physOut);
  }

  /** After a translation: the packet rewritten, and which side the connection's NAT changed. */
  public PacketContext translated(Packet p, boolean destination) {
    return new PacketContext(
        p,
        hook,
        iif,
        oif,
        ctState,
        original,
        dnat || destination,
        snat || !destination,
        ns,
        ipsets,
        physIn,
        physOut);
  }

  /**
   * The source address MASQUERADE picks, as inet_select_addr: the outgoing device's address, else
   * the first global address of any device (a host veth has none; the kernel then takes eth0's or
   * another's).
   */
  public Optional<String> masqueradeAddress() {
    return oif.flatMap(ns::link)
        .flatMap(l -> l.firstAddress(packet.family()))
        .or(
            () ->
                ns.links().stream()
                    .filter(l -> !l.isLoopback())
                    .sorted(Comparator.comparingInt(Link::ifindex))
                    .flatMap(l -> l.firstAddress(packet.family()).stream())
                    .findFirst());
  }

  /** Where REDIRECT sends the packet: loopback from a local process, else the input device. */
  public IpAddress redirectAddress() {
    boolean v4 = packet.family() == IpFamily.IPV4;
    return hook.equalsIgnoreCase("OUTPUT")
        ? IpAddress.parse(v4 ? "127.0.0.1" : "::1")
        : iif.flatMap(ns::link)
            .flatMap(l -> l.firstAddress(packet.family()))
            .map(IpAddress::parse)
            .orElse(packet.dst());
  }
}
