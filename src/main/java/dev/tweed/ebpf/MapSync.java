package dev.tweed.ebpf;

import java.util.HexFormat;
import java.util.Map;

/**
 * Converges one map to desired contents: writes the entries that are missing or differ, then
 * removes those that should not be there, one {@code bpf(2)} call each. Reads first, so a pass with
 * nothing to change writes nothing. A write the kernel refuses stops the pass with the entries not
 * yet written as they were.
 */
final class MapSync {
  private MapSync() {}

  /** What one pass changed. */
  record Changes(int written, int removed) {
    Changes plus(Changes o) {
      return new Changes(written + o.written, removed + o.removed);
    }
  }

  /** {@code desired} maps each key (hex) to its key and value bytes. */
  static Changes sync(BpfMap map, Map<String, byte[][]> desired) {
    Map<String, byte[]> have = map.entries();
    int written = 0;
    int removed = 0;
    for (var e : desired.entrySet()) {
      byte[] now = have.get(e.getKey());
      if (now == null || !java.util.Arrays.equals(now, e.getValue()[1])) {
        map.put(e.getValue()[0], e.getValue()[1]);
        written++;
      }
    }
    for (String k : have.keySet()) {
      if (!desired.containsKey(k)) {
        map.remove(HexFormat.of().parseHex(k));
        removed++;
      }
    }
    return new Changes(written, removed);
  }

  static void put(Map<String, byte[][]> desired, byte[] key, byte[] value) {
    desired.put(HexFormat.of().formatHex(key), new byte[][] {key, value});
  }
}
