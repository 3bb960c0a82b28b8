package dev.tweed.kernel;

import dev.tweed.model.IpAddress;
import dev.tweed.model.IpFamily;
import java.util.Optional;

/**
 * The IPv4 or IPv6 packet being traced, with the kernel metadata the packet path reads and writes.
 *
 * @param proto tcp, udp, icmp (IPv4) or icmpv6 (IPv6)
 * @param sport source port (ICMP: the echo identifier)
 * @param dport destination port (ICMP: 0)
 * @param mark the skb mark (iptables {@code MARK}, {@code meta mark})
 * @param ctMark the connection's mark ({@code CONNMARK}, {@code ct mark})
 */
public record Packet(
    IpAddress src,
    IpAddress dst,
    String proto,
    int sport,
    int dport,
    long mark,
    long ctMark,
    int ttl) {

  public Packet {
    if (src.family() != dst.family()) {
      throw new IllegalArgumentException("a packet from " + src + " to " + dst);
    }
  }

  /** A protocol as a user names it (tcp, udp, icmp) for a packet of {@code family}. */
  public static String protocol(String proto, IpFamily family) {
    return proto.equals("icmp") && family == IpFamily.IPV6 ? "icmpv6" : proto;
  }

  public static Packet of(String src, String dst, String proto, int sport, int dport) {
    return new Packet(IpAddress.parse(src), IpAddress.parse(dst), proto, sport, dport, 0, 0, 64);
  }

  public IpFamily family() {
    return src.family();
  }

  public String srcIp() {
    return src.toString();
  }

  public String dstIp() {
    return dst.toString();
  }

  public Packet withSrc(IpAddress s, Optional<Integer> port) {
    return new Packet(s, dst, proto, port.orElse(sport), dport, mark, ctMark, ttl);
  }

  public Packet withDst(IpAddress d, Optional<Integer> port) {
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

  public boolean isIcmp() {
    return proto.equals("icmp") || proto.equals("icmpv6");
  }

  public boolean hasPorts() {
    return proto.equals("tcp") || proto.equals("udp") || proto.equals("sctp");
  }

  /** "10.244.0.2:43512", "[fd00:10:244::2]:43512" or, for ICMP, the address alone. */
  public String srcEndpoint() {
    return hasPorts() ? IpAddress.hostPort(srcIp(), sport) : srcIp();
  }

  public String dstEndpoint() {
    return hasPorts() ? IpAddress.hostPort(dstIp(), dport) : dstIp();
  }

  @Override
  public String toString() {
    return proto + " " + srcEndpoint() + " > " + dstEndpoint();
  }
}
