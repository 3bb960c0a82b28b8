package dev.tweed.trace.verify;

import dev.tweed.ebpf.DatapathMaps;
import dev.tweed.kernel.Packet;
import dev.tweed.model.IpAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * One run of a Tweed program over a traced packet, as the program reported it to {@code
 * tw_trace_events} ({@code struct trace_event} of {@code tweed-datapath.bpf.c}).
 *
 * @param netns the namespace of the node whose programs reported it
 * @param rc the program's return (TC_ACT_OK 0, TC_ACT_SHOT 2, TC_ACT_REDIRECT 7)
 * @param kind what the helper that decided noted: 1 redirect_peer, 2 redirect, 3 redirect_neigh, 4
 *     reject, 5 passed with a tunnel key
 * @param target the redirect's ifindex
 * @param reason the drop's reason, as {@code tw_counts} names them
 * @param tunnel the tunnel key's remote end ("" for none)
 * @param in the packet as the program received it
 * @param out the packet as the program left it
 */
public record ProgramEvent(
    long timeNanos,
    int traceId,
    String netns,
    int ifindex,
    String program,
    int rc,
    int kind,
    int target,
    String reason,
    String tunnel,
    long mark,
    int tcpFlags,
    Packet in,
    Packet out) {
  public static final int SIZE = 128;
  static final int TC_ACT_OK = 0;
  static final int TC_ACT_SHOT = 2;
  static final int TC_ACT_REDIRECT = 7;

  private static final String[] PROGRAMS = {
    "", "from_container", "to_container", "from_overlay", "to_overlay", "from_netdev", "to_netdev"
  };

  /** This event with the client's real port {@code real} read as {@code model}, both ways. */
  ProgramEvent withClientPort(int real, int model) {
    if (real == model) {
      return this;
    }
    return new ProgramEvent(
        timeNanos,
        traceId,
        netns,
        ifindex,
        program,
        rc,
        kind,
        target,
        reason,
        tunnel,
        mark,
        tcpFlags,
        port(in, real, model),
        port(out, real, model));
  }

  private static Packet port(Packet p, int real, int model) {
    return new Packet(
        p.src(),
        p.dst(),
        p.proto(),
        p.sport() == real ? model : p.sport(),
        p.dport() == real ? model : p.dport(),
        0,
        0,
        64);
  }

  /** A SYN without ACK: the first packet of a TCP connection. */
  public boolean syn() {
    return (tcpFlags & 0x12) == 0x02;
  }

  /** A SYN with ACK: the first packet of its reply. */
  public boolean synAck() {
    return (tcpFlags & 0x12) == 0x12;
  }

  public static ProgramEvent decode(String netns, byte[] b) {
    if (b.length < SIZE) {
      throw new IllegalArgumentException("a trace event is " + SIZE + " bytes, got " + b.length);
    }
    ByteBuffer le = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    int program = le.getInt(40);
    int reason = le.getInt(28);
    String tunnel = DatapathMaps.address(b, 32);
    return new ProgramEvent(
        le.getLong(0),
        le.getInt(8),
        netns,
        le.getInt(12),
        program > 0 && program < PROGRAMS.length ? PROGRAMS[program] : "program " + program,
        le.getInt(16),
        le.getInt(20),
        le.getInt(24),
        reason < DatapathMaps.COUNT_NAMES.size() ? DatapathMaps.COUNT_NAMES.get(reason) : "",
        tunnel.equals("0.0.0.0") ? "" : tunnel,
        le.getInt(36) & 0xffffffffL,
        le.getInt(44),
        tuple(b, 48),
        tuple(b, 88));
  }

  /** A {@code struct trace_tuple}: either family, an IPv4 address in its field's first bytes. */
  private static Packet tuple(byte[] b, int off) {
    ByteBuffer be = ByteBuffer.wrap(b).order(ByteOrder.BIG_ENDIAN);
    int a = b[off + 37] == 6 ? 16 : 4;
    return new Packet(
        IpAddress.fromBytes(Arrays.copyOfRange(b, off, off + a)),
        IpAddress.fromBytes(Arrays.copyOfRange(b, off + 16, off + 16 + a)),
        protocolName(b[off + 36] & 0xff),
        be.getShort(off + 32) & 0xffff,
        be.getShort(off + 34) & 0xffff,
        0,
        0,
        64);
  }

  private static String protocolName(int number) {
    return switch (number) {
      case 6 -> "tcp";
      case 17 -> "udp";
      case 1 -> "icmp";
      case 58 -> "icmpv6";
      default -> String.valueOf(number);
    };
  }

  /**
   * The tuple as its family's trace map keys it ({@code tw_trace}: {@code struct ct_key}; {@code
   * tw_trace6}: {@code struct ct6_key}): the conntrack key's layout.
   */
  public static byte[] key(Packet p) {
    int proto =
        switch (p.proto()) {
          case "tcp" -> 6;
          case "udp" -> 17;
          case "icmp" -> 1;
          case "icmpv6" -> 58;
          default -> 0;
        };
    return DatapathMaps.connectionKey(
        p.src().toString(), p.sport(), p.dst().toString(), p.dport(), proto);
  }
}
