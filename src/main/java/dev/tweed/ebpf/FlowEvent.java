package dev.tweed.ebpf;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.stream.Stream;

/**
 * One record of {@code tw_events}, as {@code struct flow_event} lays it out: a connection the
 * programs let through (its first packet), or a packet they dropped or refused, with the program
 * and direction that decided and, for a Service's traffic, the frontend and the client before
 * translation.
 *
 * @param monotonicNanos when the program saw it (CLOCK_MONOTONIC)
 * @param direction the local endpoint's: "ingress", "egress", or "" when none was concerned
 */
public record FlowEvent(
    long monotonicNanos,
    String verdict,
    String reason,
    int ifindex,
    String program,
    String direction,
    int protocol,
    String source,
    int sourcePort,
    String destination,
    int destinationPort,
    boolean translated,
    String frontend,
    int frontendPort,
    String client,
    int clientPort) {
  public static final int SIZE = 104;
  private static final List<String> VERDICTS = List.of("", "FORWARDED", "DROPPED", "REJECTED");

  /** {@code enum program_id}: 0 for none, then the programs in {@link Datapath#PROGRAMS}' order. */
  private static final List<String> PROGRAMS =
      Stream.concat(Stream.of(""), Datapath.PROGRAMS.stream()).toList();

  private static final List<String> DIRECTIONS = List.of("ingress", "egress", "");

  public static FlowEvent decode(byte[] b) {
    if (b.length < SIZE) {
      throw new IllegalArgumentException("a flow event is " + SIZE + " bytes, got " + b.length);
    }
    ByteBuffer h = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    ByteBuffer n = ByteBuffer.wrap(b).order(ByteOrder.BIG_ENDIAN);
    int verdict = h.getInt(8);
    int reason = h.getInt(12);
    // An IPv4 address is in the first 4 bytes of its 16-byte field.
    int a = b[24] == 6 ? 16 : 4;
    return new FlowEvent(
        h.getLong(0),
        verdict < VERDICTS.size() ? VERDICTS.get(verdict) : "UNKNOWN",
        verdict == 1 ? "" : reasonName(reason),
        h.getInt(16),
        (b[20] & 0xff) < PROGRAMS.size() ? PROGRAMS.get(b[20] & 0xff) : "",
        (b[21] & 0xff) < DIRECTIONS.size() ? DIRECTIONS.get(b[21] & 0xff) : "",
        b[22] & 0xff,
        DatapathMaps.address(b, 32, a),
        n.getShort(26) & 0xffff,
        DatapathMaps.address(b, 48, a),
        n.getShort(28) & 0xffff,
        b[23] != 0,
        DatapathMaps.address(b, 64, a),
        n.getShort(30) & 0xffff,
        DatapathMaps.address(b, 80, a),
        n.getShort(96) & 0xffff);
  }

  /** The datapath's reason for a drop, as its counters name it. */
  static String reasonName(int reason) {
    return reason < DatapathMaps.COUNT_NAMES.size() ? DatapathMaps.COUNT_NAMES.get(reason) : "";
  }
}
