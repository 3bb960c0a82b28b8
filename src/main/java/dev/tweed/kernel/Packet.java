package dev.tweed.kernel;

import dev.tweed.model.Ipv4;
import java.util.Optional;

/**
 * The IPv4 packet being traced, with the kernel metadata the packet path reads and writes.
 *
 * @param proto tcp, udp or icmp
 * @param sport source port (ICMP: the echo identifier)
 * @param dport destination port (ICMP: 0)
 * @param mark the skb mark (iptables {@code MARK}, {@code meta mark})
 * @param ctMark the connection's mark ({@code CONNMARK}, {@code ct mark})
 */
public record Packet(
    int src, int dst, String proto, int sport, int dport, long mark, long ctMark, int ttl) {

  public static Packet of(String src, String dst, String proto, int sport, int dport) {
    return new Packet(Ipv4.parse(src), Ipv4.parse(dst), proto, sport, dport, 0, 0, 64);
  }

  public String srcIp() {
    return Ipv4.format(src);
  }

  public String dstIp() {
    return Ipv4.format(dst);
  }

  public Packet withSrc(int s, Optional<Integer> port) {
    return new Packet(s, dst, proto, port.orElse(sport), dport, mark, ctMark, ttl);
  }

  public Packet withDst(int d, Optional<Integer> port) {
    return new Packet(src, d, proto, sport, port.orElse(dport), mark, ctMark, ttl);
  }

  public Packet withMark(long m) {
    return new Packet(src, dst, proto, sport, dport, m, ctMark, ttl);
  }

  public Packet withCtMark(long m) {
    return new Packet(src, dst, proto, sport, dport, mark, m, ttl);
  }

  public Packet decrementTtl() {
    return new Packet(src, dst, proto, sport, dport, mark, ctMark, ttl - 1);
  }

  public boolean hasPorts() {
    return proto.equals("tcp") || proto.equals("udp") || proto.equals("sctp");
  }

  /** "10.244.0.2:43512" or, for ICMP, the address alone. */
  public String srcEndpoint() {
    return hasPorts() ? srcIp() + ":" + sport : srcIp();
  }

  public String dstEndpoint() {
    return hasPorts() ? dstIp() + ":" + dport : dstIp();
  }

  @Override
  public String toString() {
    return proto + " " + srcEndpoint() + " > " + dstEndpoint();
  }
}
