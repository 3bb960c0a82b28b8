package dev.tweed.calc;

import java.util.ArrayList;
import java.util.List;

/** What one batch of updates moved, noted by the calculators as they take it. */
final class ChangeSet {
  boolean routes;
  boolean bgp;
  boolean services;
  boolean policy;
  boolean identities;
  final List<String> rejected = new ArrayList<>();

  CalculationGraph.Changes done() {
    return new CalculationGraph.Changes(routes, bgp, services, policy, identities, rejected);
  }
}
