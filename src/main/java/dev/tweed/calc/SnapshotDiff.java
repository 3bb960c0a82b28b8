package dev.tweed.calc;

import dev.tweed.datastore.Entry;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Turns the syncer's successive snapshots into the updates between them (by each key's mod
 * revision): the calculation graph's input, one update per resource that changed.
 */
public final class SnapshotDiff {
  private Map<String, Long> seen = new HashMap<>();

  public List<ResourceUpdate> next(Map<String, Entry> snapshot) {
    List<ResourceUpdate> out = new ArrayList<>();
    Map<String, Long> now = new HashMap<>(snapshot.size() * 2);
    for (Entry e : snapshot.values()) {
      now.put(e.key(), e.modRevision());
      Long before = seen.get(e.key());
      if (before == null || before != e.modRevision()) {
        out.add(new ResourceUpdate(e.key(), Optional.of(e.value())));
      }
    }
    for (String k : seen.keySet()) {
      if (!now.containsKey(k)) {
        out.add(new ResourceUpdate(k, Optional.empty()));
      }
    }
    seen = now;
    return out;
  }
}
