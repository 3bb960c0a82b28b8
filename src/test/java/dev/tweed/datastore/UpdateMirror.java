package dev.tweed.datastore;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;

/**
 * A syncer's listener for tests: replays every update onto a map, so that the map is what the
 * syncer's cache holds if and only if the updates were complete and in order. An update whose old
 * value is not what the mirror held is recorded as an inconsistency.
 */
public final class UpdateMirror implements Consumer<UpdateBatch> {
  private final Map<String, JsonNode> resources = new ConcurrentHashMap<>();
  private final List<String> inconsistencies = new ArrayList<>();
  private volatile int batches;

  @Override
  public synchronized void accept(UpdateBatch batch) {
    batches++;
    for (ResourceUpdate u : batch.updates()) {
      Optional<JsonNode> held = Optional.ofNullable(resources.get(u.key()));
      if (!held.equals(u.old())) {
        inconsistencies.add(u.key() + ": held " + held + ", update said " + u.old());
      }
      u.value().ifPresentOrElse(v -> resources.put(u.key(), v), () -> resources.remove(u.key()));
    }
  }

  public Map<String, JsonNode> snapshot() {
    return Map.copyOf(resources);
  }

  public int batches() {
    return batches;
  }

  public synchronized List<String> inconsistencies() {
    return List.copyOf(inconsistencies);
  }
}
