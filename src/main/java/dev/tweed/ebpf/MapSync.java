package dev.tweed.ebpf;

import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;

/**
 * Converges one map to desired contents: writes the entries that are missing or differ, then
 * removes those that should not be there, one {@code bpf(2)} call each. It compares with what it
 * wrote last (kept in memory), or, when asked to look for drift or after a failed pass, with what
 * the kernel holds. A write the kernel refuses stops the pass with the entries not yet written as
 * they were.
 */
final class MapSync {
  private final BpfMap map;
  private Map<String, byte[]> written;

  MapSync(BpfMap map) {
    this.map = map;
  }

  /** What one pass changed. */
  record Changes(int written, int removed) {
    Changes plus(Changes o) {
      return new Changes(written + o.written, removed + o.removed);
    }
  }

  /** {@code desired} maps each key (hex) to its key and value bytes. */
  Changes sync(Map<String, byte[][]> desired, boolean readKernel) {
    Map<String, byte[]> have = readKernel || written == null ? map.entries() : written;
    Map<String, byte[]> now = new HashMap<>(have);
    written = null; // unknown until this pass completes
    int puts = 0;
    int removed = 0;
    for (var e : desired.entrySet()) {
      byte[] old = have.get(e.getKey());
      if (old == null || !Arrays.equals(old, e.getValue()[1])) {
        map.put(e.getValue()[0], e.getValue()[1]);
        now.put(e.getKey(), e.getValue()[1]);
        puts++;
      }
    }
    for (String k : have.keySet()) {
      if (!desired.containsKey(k)) {
        map.remove(HexFormat.of().parseHex(k));
        now.remove(k);
        removed++;
      }
    }
    written = now;
    return new Changes(puts, removed);
  }

  BpfMap map() {
    return map;
  }

  /** Written behind this object's back: the next pass compares with the kernel. */
  void forget() {
    written = null;
  }

  static void put(Map<String, byte[][]> desired, byte[] key, byte[] value) {
    desired.put(HexFormat.of().formatHex(key), new byte[][] {key, value});
  }
}
