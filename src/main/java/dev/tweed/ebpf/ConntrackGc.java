package dev.tweed.ebpf;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Removes the programs' conntrack entries of connections that ended or went quiet. The map is an
 * LRU hash: when it is full the kernel evicts the least recently used entry, which cannot tell a
 * connection closed a second ago from a live one that has been idle for a minute, and an evicted
 * live connection's next packet meets no translation and no verdict (through a Service, it may be
 * sent to another backend and reset). Collecting what ended keeps the map to live connections, so
 * eviction stays the last resort it is meant to be. The lifetimes are Cilium's defaults for its
 * conntrack garbage collector: 10 s after a FIN or RST, 6 h for an idle TCP connection, 60 s for
 * anything else.
 */
public final class ConntrackGc {
  /** How long an entry may stay idle (since its last packet), by what the programs saw of it. */
  public record Lifetimes(Duration closing, Duration tcp, Duration other) {
    public static final Lifetimes DEFAULTS =
        new Lifetimes(Duration.ofSeconds(10), Duration.ofHours(6), Duration.ofSeconds(60));
  }

  /** One pass: entries read, removed, and how long it took. */
  public record Result(int scanned, int removed, long micros) {}

  private static final int TCP = 6;

  private final BpfMap map;
  private final Lifetimes lifetimes;

  public ConntrackGc(BpfMap map, Lifetimes lifetimes) {
    this.map = map;
    this.lifetimes = lifetimes;
  }

  /**
   * Removes every entry idle for longer than its lifetime at {@code nowNanos} (CLOCK_MONOTONIC, the
   * programs' clock: {@link System#nanoTime()} on Linux).
   */
  public Result collect(long nowNanos) {
    long start = System.nanoTime();
    List<byte[][]> expired = new ArrayList<>();
    int[] scanned = {0};
    map.forEachBatched(
        (k, v) -> {
          scanned[0]++;
          if (expired(k, v, nowNanos)) {
            expired.add(
                new byte[][] {k.toArray(ValueLayout.JAVA_BYTE), v.toArray(ValueLayout.JAVA_BYTE)});
          }
        });
    // A new connection may have taken an entry over since it was read (a SYN reusing the ports):
    // only entries as read are removed.
    int removed = map.removeIfUnchanged(expired);
    return new Result(scanned[0], removed, (System.nanoTime() - start) / 1000);
  }

  private static final ValueLayout.OfLong U64 =
      ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfInt U32 =
      ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  private boolean expired(MemorySegment key, MemorySegment value, long nowNanos) {
    long lastSeen = value.get(U64, 8);
    int flags = value.get(U32, 16);
    Duration lifetime =
        (flags & DatapathMaps.CT_CLOSING) != 0
            ? lifetimes.closing()
            : (key.get(ValueLayout.JAVA_BYTE, 12) & 0xff) == TCP
                ? lifetimes.tcp()
                : lifetimes.other();
    return nowNanos - lastSeen > lifetime.toNanos();
  }
}
