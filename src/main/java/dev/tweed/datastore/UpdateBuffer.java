package dev.tweed.datastore;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Where a syncer's batches wait for the calculation graph, coalesced by key as felix's dedupe
 * buffer does: a key changed ten times between two passes is one update (its first old value, its
 * last new one), and a resource created and deleted in between is none. Keys keep the order of
 * their first change. Thread-safe: the syncer adds, the agent's loop drains.
 */
public final class UpdateBuffer {
  private final Map<String, ResourceUpdate> pending = new LinkedHashMap<>();
  private long revision;
  private boolean listed;

  /** Returns true when the batch gave the graph something to do (updates, or a listing). */
  public synchronized boolean add(UpdateBatch batch) {
    revision = Math.max(revision, batch.revision());
    listed |= batch.listed();
    for (ResourceUpdate u : batch.updates()) {
      ResourceUpdate before = pending.get(u.key());
      if (before == null) {
        // A syncer hands on only what changed: a first update needs no comparing.
        pending.put(u.key(), u);
        continue;
      }
      ResourceUpdate merged = before.then(u);
      if (merged.noChange()) {
        pending.remove(u.key());
      } else {
        pending.put(u.key(), merged);
      }
    }
    return !batch.updates().isEmpty() || batch.listed();
  }

  /** Everything added since the last drain, and the newest revision seen (kept across drains). */
  public synchronized UpdateBatch drain() {
    UpdateBatch out = new UpdateBatch(pending.values().stream().toList(), revision, listed);
    pending.clear();
    listed = false;
    return out;
  }
}
