package dev.tweed.ebpf;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
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
    map.forEach(
        (k, v) -> {
          scanned[0]++;
          if (expired(k, v, nowNanos)) {
            expired.add(new byte[][] {k, v});
          }
        });
    int removed = 0;
    for (byte[][] e : expired) {
      // A new connection may have taken the entry over since it was read (a SYN reusing the
      // ports): only the entry as read is removed.
      var now = map.get(e[0]);
      if (now.isPresent() && Arrays.equals(now.get(), e[1]) && map.remove(e[0])) {
        removed++;
      }
    }
    return new Result(scanned[0], removed, (System.nanoTime() - start) / 1000);
  }

  boolean expired(byte[] key, byte[] value, long nowNanos) {
    ByteBuffer v = ByteBuffer.wrap(value).order(ByteOrder.LITTLE_ENDIAN);
    long lastSeen = v.getLong(8);
    int flags = v.getInt(16);
    Duration lifetime =
        (flags & DatapathMaps.CT_CLOSING) != 0
            ? lifetimes.closing()
            : (key[12] & 0xff) == TCP ? lifetimes.tcp() : lifetimes.other();
    return nowNanos - lastSeen > lifetime.toNanos();
  }
}
