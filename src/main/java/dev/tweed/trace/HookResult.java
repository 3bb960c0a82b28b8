package dev.tweed.trace;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * What a netfilter hook makes of a walk: the walks that go on past it (one per random fork) and the
 * journeys that ended in it (a DROP or REJECT).
 */
record HookResult(List<Walk> continuing, List<Outcome> ended) {
  HookResult {
    continuing = List.copyOf(continuing);
    ended = List.copyOf(ended);
  }

  static HookResult passing(Walk w) {
    return new HookResult(List.of(w), List.of());
  }

  /**
   * The ended journeys, and for every walk that goes on, what {@code next} makes of it: the usual
   * shape of a stage that runs a hook and then carries on.
   */
  List<Outcome> then(Function<Walk, List<Outcome>> next) {
    List<Outcome> out = new ArrayList<>(ended);
    for (Walk w : continuing) {
      out.addAll(next.apply(w));
    }
    return out;
  }
}
