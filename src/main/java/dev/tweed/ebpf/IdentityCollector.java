package dev.tweed.ebpf;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.datastore.ConflictException;
import dev.tweed.datastore.Datastore;
import dev.tweed.datastore.Entry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Removes the identities no pod of the cluster has needed for a grace period, as Cilium's operator
 * collects its unused identities: a label set whose pods are all gone, and the higher numbers two
 * agents gave one label set at once (everyone uses the lowest). Every agent sees the same pods and
 * so decides alike; the first to delete wins, the others find the key gone. A delete is conditional
 * on the object being the one judged, and the grace period (15 minutes by default) leaves a label
 * set that comes back soon its number: an agent that has just reused a number the collector then
 * deletes allocates it again on its next pass, and its maps follow.
 */
public final class IdentityCollector {
  public static final Duration DEFAULT_GRACE = Duration.ofMinutes(15);

  private final Datastore store;
  private final long graceNanos;

  /** Since when (System.nanoTime) each identity has been seen unneeded; reset by a restart. */
  private final Map<Integer, Long> unneededSince = new HashMap<>();

  public IdentityCollector(Datastore store, Duration grace) {
    this.store = store;
    this.graceNanos = grace.toNanos();
  }

  /**
   * Notes which of {@code identities} (the store's objects) no label set of {@code needed} uses,
   * and deletes those unneeded for the grace period; returns the numbers deleted.
   */
  public List<Integer> collect(
      Collection<JsonNode> identities, Collection<List<String>> needed, long nowNanos) {
    Map<List<String>, Integer> lowest = IdentityAllocator.read(identities);
    Set<List<String>> inUse = new HashSet<>(needed);
    Set<Integer> unneeded = new HashSet<>();
    Map<Integer, List<String>> labelsOf = new HashMap<>();
    for (JsonNode n : identities) {
      Optional<Integer> id = IdentityAllocator.number(n);
      if (id.isEmpty()) {
        continue;
      }
      List<String> labels = IdentityAllocator.labels(n);
      labelsOf.put(id.get(), labels);
      if (!inUse.contains(labels) || !id.get().equals(lowest.get(labels))) {
        unneeded.add(id.get());
      }
    }
    unneededSince.keySet().retainAll(unneeded);
    List<Integer> deleted = new ArrayList<>();
    for (int id : unneeded) {
      long since = unneededSince.computeIfAbsent(id, k -> nowNanos);
      if (nowNanos - since < graceNanos) {
        continue;
      }
      String key = IdentityAllocator.key(id).toString();
      Optional<Entry> e = store.get(key);
      // Deleted only as judged: the same labels, at the revision read.
      if (e.isEmpty() || !IdentityAllocator.labels(e.get().value()).equals(labelsOf.get(id))) {
        unneededSince.remove(id);
        continue;
      }
      try {
        store.delete(key, e.get().modRevision());
        deleted.add(id);
      } catch (ConflictException moved) {
        // Rewritten meanwhile: judged again on the next pass.
      }
      unneededSince.remove(id);
    }
    return deleted;
  }
}
