package dev.tweed.calc;

import dev.tweed.datastore.ResourceUpdate;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Hands each update to the calculators registered for its kind, in the order they registered, as
 * felix's dispatcher does. A kind nobody registered for is dropped here.
 */
final class Dispatcher {
  /** A calculator's entry for one kind: takes the update, notes which outputs it moved. */
  @FunctionalInterface
  interface Handler {
    void onUpdate(ResourceUpdate update, ChangeSet changes);
  }

  private final Map<String, List<Handler>> byKind = new HashMap<>();

  void on(String kind, Handler handler) {
    byKind.computeIfAbsent(kind, k -> new ArrayList<>()).add(handler);
  }

  void dispatch(ResourceUpdate update, ChangeSet changes) {
    for (Handler h : byKind.getOrDefault(update.kind(), List.of())) {
      h.onUpdate(update, changes);
    }
  }
}
