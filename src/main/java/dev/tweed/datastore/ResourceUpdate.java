package dev.tweed.datastore;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.model.ResourceKey;
import java.util.Optional;

/**
 * One resource's change as a syncer applied it to its cache: the value before and after (empty:
 * absent), and the datastore revision that made it. The calculation graph's only input.
 */
public record ResourceUpdate(
    String kind, String key, Optional<JsonNode> old, Optional<JsonNode> value, long revision) {

  public static ResourceUpdate of(
      String key, Optional<JsonNode> old, Optional<JsonNode> value, long revision) {
    return new ResourceUpdate(ResourceKey.parse(key).kind(), key, old, value, revision);
  }

  /** A resource as it is now, its earlier value unknown or irrelevant (benchmarks, replays). */
  public static ResourceUpdate put(String key, JsonNode value) {
    return of(key, Optional.empty(), Optional.of(value), 0);
  }

  /** This change followed by {@code later} on the same key, as one change. */
  ResourceUpdate then(ResourceUpdate later) {
    return new ResourceUpdate(kind, key, old, later.value, Math.max(revision, later.revision));
  }

  /** True when nothing changed: absent before and after, or the same value. */
  boolean noChange() {
    return old.equals(value);
  }
}
