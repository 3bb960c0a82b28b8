package dev.tweed.datastore;

import java.util.List;

/**
 * What a syncer hands its listener after each listing or watch batch: the updates it applied to its
 * cache, in order, and the revision the cache now reflects. {@code listed} is true after a
 * (re)list, which may change nothing and still matter (the cache is synced now).
 */
public record UpdateBatch(List<ResourceUpdate> updates, long revision, boolean listed) {
  public UpdateBatch {
    updates = List.copyOf(updates);
  }
}
