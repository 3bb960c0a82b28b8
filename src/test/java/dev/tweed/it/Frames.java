package dev.tweed.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tweed.model.IpAddress;
import dev.tweed.model.IpFamily;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * Ethernet frames for the programs' test runs, IPv4 or IPv6 by their addresses, with correct
 * checksums; and the reading of a frame a program left, its checksums verified.
 */
final class Frames {
  static final int TCP = 6;
  static final int UDP = 17;
  static final int ICMP = 1;
  static final int ICMPV6 = 58;

  /** The frame's Ethernet header: to the host veth's MAC, from the pod's. */
  private static final byte[] ETHERNET = HexFormat.of().parseHex("eeeeeeeeeeee0a000000000a");

  private Frames() {}

  static boolean v6(byte[] f) {
    return f[12] == (byte) 0x86 && f[13] == (byte) 0xdd;
  }

  /** Where the transport header starts (no IPv4 options, no IPv6 extension headers). */
  static int l4(byte[] f) {
    return v6(f) ? 14 + 40 : 14 + 20;
  }

  /** A TCP frame with these flags (0x02 SYN, 0x10 ACK, 0x11 FIN+ACK, 0x04 RST). */
  static byte[] tcp(String src, int sport, String dst, int dport, int flags) {
    return frame(TCP, src, sport, dst, dport, flags);
  }

  static byte[] syn(String src, int sport, String dst, int dport) {
    return tcp(src, sport, dst, dport, 0x02);
  }

  static byte[] ack(String src, int sport, String dst, int dport) {
    return tcp(src, sport, dst, dport, 0x10);
  }

  /** A TCP or UDP frame (a 4-byte UDP payload) with correct checksums. */
  static byte[] frame(int proto, String src, int sport, String dst, int dport, int tcpFlags) {
    ByteBuffer l4 = ByteBuffer.allocate(proto == TCP ? 20 : 12);
    l4.putShort((short) sport).putShort((short) dport);
    if (proto == TCP) {
      l4.putInt(1).putInt(0).put((byte) 0x50).put((byte) tcpFlags).putShort((short) 65535);
      l4.putInt(0);
    } else {
      l4.putShort((short) 12).putShort((short) 0).putInt(0x70696e67);
    }
    return ip(proto, src, dst, l4.array());
  }

  /** An IP packet of {@code proto} carrying {@code payload}, its checksums filled in. */
  static byte[] ip(int proto, String src, String dst, byte[] payload) {
    IpAddress s = IpAddress.parse(src);
    IpAddress d = IpAddress.parse(dst);
    boolean v6 = s.family() == IpFamily.IPV6;
    int header = v6 ? 40 : 20;
    ByteBuffer b = ByteBuffer.allocate(14 + header + payload.length);
    b.put(ETHERNET).putShort((short) (v6 ? 0x86dd : 0x0800));
    if (v6) {
      b.putInt(0x60000000).putShort((short) payload.length).put((byte) proto).put((byte) 64);
    } else {
      b.put((byte) 0x45).put((byte) 0).putShort((short) (20 + payload.length)).putInt(0);
      b.put((byte) 64).put((byte) proto).putShort((short) 0);
    }
    b.put(s.bytes()).put(d.bytes()).put(payload);
    byte[] f = b.array();
    if (!v6) {
      ByteBuffer.wrap(f).putShort(24, (short) checksum(f, 14, 20, 0));
    }
    int at = csumAt(f, proto);
    long pseudo = proto == ICMP ? 0 : pseudo(f, proto, payload.length);
    ByteBuffer.wrap(f).putShort(at, (short) checksum(f, l4(f), payload.length, pseudo));
    return f;
  }

  private static int csumAt(byte[] f, int proto) {
    return l4(f) + (proto == TCP ? 16 : proto == UDP ? 6 : 2);
  }

  /** The pseudo-header's sum: both addresses, the protocol and the transport length. */
  static long pseudo(byte[] f, int proto, int len) {
    int from = v6(f) ? 14 + 8 : 14 + 12;
    int to = v6(f) ? 14 + 40 : 14 + 20;
    long sum = 0;
    for (int i = from; i < to; i += 2) {
      sum += ((f[i] & 0xff) << 8) | (f[i + 1] & 0xff);
    }
    return sum + proto + len;
  }

  /** The Internet checksum of f[off, off+len) with {@code start} added: 0 when it verifies. */
  static int checksum(byte[] f, int off, int len, long start) {
    long sum = start;
    for (int i = off; i < off + len; i += 2) {
      sum += ((f[i] & 0xff) << 8) | (i + 1 < off + len ? f[i + 1] & 0xff : 0);
    }
    while (sum >> 16 != 0) {
      sum = (sum & 0xffff) + (sum >> 16);
    }
    return (int) (~sum & 0xffff);
  }

  static int protocol(byte[] f) {
    return v6(f) ? f[14 + 6] & 0xff : f[14 + 9] & 0xff;
  }

  static String source(byte[] f) {
    return v6(f) ? address(f, 14 + 8, 16) : address(f, 14 + 12, 4);
  }

  static String destination(byte[] f) {
    return v6(f) ? address(f, 14 + 24, 16) : address(f, 14 + 16, 4);
  }

  static String address(byte[] f, int off, int len) {
    return IpAddress.fromBytes(Arrays.copyOfRange(f, off, off + len)).toString();
  }

  /** The transport payload's length: what the IP header says. */
  static int l4Length(byte[] f) {
    ByteBuffer b = ByteBuffer.wrap(f);
    return v6(f) ? b.getShort(14 + 4) & 0xffff : (b.getShort(14 + 2) & 0xffff) - 20;
  }

  /**
   * "src:port > dst:port" of a frame out of a program ({@code [addr]:port} in IPv6), after checking
   * its checksums: IPv4's header, TCP's or UDP's with the pseudo-header, ICMPv6's with it too.
   */
  static String flow(byte[] f) {
    int proto = protocol(f);
    int len = l4Length(f);
    if (!v6(f)) {
      assertThat(checksum(f, 14, 20, 0)).as("IP header checksum").isZero();
    }
    if (proto == TCP || proto == UDP || proto == ICMPV6) {
      assertThat(checksum(f, l4(f), len, pseudo(f, proto, len))).as("L4 checksum").isZero();
    } else if (proto == ICMP) {
      assertThat(checksum(f, l4(f), len, 0)).as("ICMP checksum").isZero();
    }
    ByteBuffer b = ByteBuffer.wrap(f);
    return IpAddress.hostPort(source(f), b.getShort(l4(f)) & 0xffff)
        + " > "
        + IpAddress.hostPort(destination(f), b.getShort(l4(f) + 2) & 0xffff);
  }
}
