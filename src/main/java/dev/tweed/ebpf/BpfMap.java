package dev.tweed.ebpf;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.BiConsumer;

/**
 * A BPF map held by descriptor, read and written as raw keys and values through {@code bpf(2)}. One
 * call a change; nothing is forked.
 */
public final class BpfMap implements AutoCloseable {
  private final String name;
  private final int fd;
  private final int keySize;
  private final int valueSize;
  private final boolean owned;

  BpfMap(String name, int fd, int keySize, int valueSize, boolean owned) {
    this.name = name;
    this.fd = fd;
    this.keySize = keySize;
    this.valueSize = valueSize;
    this.owned = owned;
  }

  /** A map pinned at {@code path}, opened by its pin. */
  public static BpfMap pinned(Path path, int keySize, int valueSize) {
    return new BpfMap(
        path.getFileName().toString(), Libbpf.objGet(path.toString()), keySize, valueSize, true);
  }

  public String name() {
    return name;
  }

  int fd() {
    return fd;
  }

  public void put(byte[] key, byte[] value) {
    check(key, value);
    try (Arena a = Arena.ofConfined()) {
      Libbpf.update(fd, segment(a, key), segment(a, value));
    }
  }

  /**
   * Writes many entries with one {@code bpf(2)} call per few thousand (hash maps; the kernel takes
   * them in order). Returns how many were written: all, unless the kernel refused the entry at that
   * index, whose refusal is then made again singly to throw with its reason.
   */
  public int putAll(List<byte[][]> entries) {
    int done = 0;
    while (done < entries.size()) {
      int n = Math.min(BATCH, entries.size() - done);
      try (Arena a = Arena.ofConfined()) {
        MemorySegment keys = a.allocate((long) keySize * n, 8);
        MemorySegment values = a.allocate((long) valueSize * n, 8);
        for (int i = 0; i < n; i++) {
          byte[][] kv = entries.get(done + i);
          check(kv[0], kv[1]);
          MemorySegment.copy(kv[0], 0, keys, ValueLayout.JAVA_BYTE, (long) i * keySize, keySize);
          MemorySegment.copy(
              kv[1], 0, values, ValueLayout.JAVA_BYTE, (long) i * valueSize, valueSize);
        }
        int wrote = Libbpf.updateBatch(fd, keys, values, n, a);
        done += wrote;
        if (wrote < n) {
          byte[][] refused = entries.get(done);
          try {
            put(refused[0], refused[1]);
          } catch (RuntimeException e) {
            throw new RefusedEntryException(done, e);
          }
          done++; // the kernel took it this time
        }
      }
    }
    return done;
  }

  private static final int BATCH = 4096;
  private static final int EINVAL = 22;
  private static final int EOPNOTSUPP = 95;
  private static final int ENOTSUPP = 524;

  /** False once the kernel refused a batch lookup on this map. */
  private boolean batchLookup = true;

  /** The kernel refused entry {@code index} of a {@link #putAll}; those before it are written. */
  public static final class RefusedEntryException extends RuntimeException {
    private final int index;

    RefusedEntryException(int index, RuntimeException cause) {
      super(cause.getMessage(), cause);
      this.index = index;
    }

    public int index() {
      return index;
    }
  }

  /** True when the key was there. */
  public boolean remove(byte[] key) {
    try (Arena a = Arena.ofConfined()) {
      return Libbpf.delete(fd, segment(a, key));
    }
  }

  public Optional<byte[]> get(byte[] key) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment v = a.allocate(valueSize, 8);
      if (!Libbpf.lookup(fd, segment(a, key), v)) {
        return Optional.empty();
      }
      return Optional.of(v.toArray(ValueLayout.JAVA_BYTE));
    }
  }

  public List<byte[]> keys() {
    List<byte[]> out = new ArrayList<>();
    try (Arena a = Arena.ofConfined()) {
      MemorySegment cur = MemorySegment.NULL;
      MemorySegment next = a.allocate(keySize, 8);
      while (Libbpf.nextKey(fd, cur, next)) {
        out.add(next.toArray(ValueLayout.JAVA_BYTE));
        cur = segment(a, out.getLast());
      }
    }
    return out;
  }

  /**
   * Calls {@code visit} with each entry's key and value (views into a buffer reused from one visit
   * to the next: copy what must outlive it), read {@value #BATCH} at a time with one {@code bpf(2)}
   * call (a hash map: entries written meanwhile may or may not be seen).
   */
  public void forEachBatched(BiConsumer<MemorySegment, MemorySegment> visit) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment keys = a.allocate((long) keySize * BATCH, 8);
      MemorySegment values = a.allocate((long) valueSize * BATCH, 8);
      // A hash map's position is a bucket number (4 bytes); other maps' (the kernel's generic
      // batch walk, LPM tries and arrays) is the last key read.
      MemorySegment in = a.allocate(Math.max(8, keySize), 8);
      MemorySegment out = a.allocate(Math.max(8, keySize), 8);
      MemorySegment count = a.allocate(ValueLayout.JAVA_INT);
      boolean first = true;
      boolean more = true;
      while (more) {
        count.set(ValueLayout.JAVA_INT, 0, BATCH);
        more = Libbpf.lookupBatch(fd, first ? MemorySegment.NULL : in, out, keys, values, count);
        first = false;
        int n = count.get(ValueLayout.JAVA_INT, 0);
        for (int i = 0; i < n; i++) {
          visit.accept(
              keys.asSlice((long) i * keySize, keySize),
              values.asSlice((long) i * valueSize, valueSize));
        }
        in.copyFrom(out);
      }
    }
  }

  /**
   * Removes each entry of {@code entries} (key and value, as read) whose value is still the one
   * read, and returns how many it removed: one that changed or went is left alone (a race of a few
   * microseconds remains between the check and the removal).
   */
  public int removeIfUnchanged(List<byte[][]> entries) {
    int removed = 0;
    try (Arena a = Arena.ofConfined()) {
      MemorySegment k = a.allocate(keySize, 8);
      MemorySegment v = a.allocate(valueSize, 8);
      MemorySegment expected = a.allocate(valueSize, 8);
      for (byte[][] e : entries) {
        check(e[0], e[1]);
        MemorySegment.copy(e[0], 0, k, ValueLayout.JAVA_BYTE, 0, keySize);
        MemorySegment.copy(e[1], 0, expected, ValueLayout.JAVA_BYTE, 0, valueSize);
        if (Libbpf.lookup(fd, k, v) && v.mismatch(expected) < 0 && Libbpf.delete(fd, k)) {
          removed++;
        }
      }
    }
    return removed;
  }

  /**
   * Every entry, keyed by the key's hex form. An entry deleted while being read is skipped, so a
   * map the programs change (conntrack) reads as a consistent-enough snapshot.
   */
  public Map<String, byte[]> entries() {
    Map<String, byte[]> out = new LinkedHashMap<>();
    if (batchLookup) {
      // One bpf(2) call per BATCH entries instead of two per entry: a drift check of a map of
      // 30,000 entries costs a few milliseconds, not 60,000 system calls.
      try {
        forEachBatched(
            (k, v) ->
                out.put(
                    HexFormat.of().formatHex(k.toArray(ValueLayout.JAVA_BYTE)),
                    v.toArray(ValueLayout.JAVA_BYTE)));
        return out;
      } catch (Libbpf.BpfException e) {
        if (e.errno() != EINVAL && e.errno() != ENOTSUPP && e.errno() != EOPNOTSUPP) {
          throw e;
        }
        // A kernel without batch lookups for this map type: entry by entry from now on.
        batchLookup = false;
        out.clear();
      }
    }
    for (byte[] k : keys()) {
      get(k).ifPresent(v -> out.put(HexFormat.of().formatHex(k), v));
    }
    return out;
  }

  private void check(byte[] key, byte[] value) {
    if (key.length != keySize || value.length != valueSize) {
      throw new IllegalArgumentException(
          name
              + ": key of "
              + key.length
              + " bytes, value of "
              + value.length
              + " (want "
              + keySize
              + " and "
              + valueSize
              + ")");
    }
  }

  private static MemorySegment segment(Arena a, byte[] bytes) {
    MemorySegment s = a.allocate(Math.max(1, bytes.length), 8);
    s.copyFrom(MemorySegment.ofArray(bytes));
    return s;
  }

  @Override
  public void close() {
    if (owned) {
      Libbpf.closeFd(fd);
    }
  }
}
