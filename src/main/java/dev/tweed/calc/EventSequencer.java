package dev.tweed.calc;

import java.util.EnumSet;
import java.util.Set;

/**
 * Orders what the graph calculated for the node's drivers, as felix's event sequencer does: the
 * graph's changes accumulate here, pass after pass, and each flush hands them to the drivers in one
 * fixed order, so that what a rule or map entry depends on is in the kernel before it. Routes come
 * first (a pod on a new node is reachable before a Service's frontend leads there, or a policy lets
 * traffic to it), then BGP (BIRD announces what the routes made local), then Services (a backend
 * before the frontends that reach it, within the service driver), then policy (its endpoints'
 * routes and the Services it sees already programmed). A step that fails or cannot run yet stays
 * pending, and so do the steps after a failed one: they are flushed, in order, on the next pass.
 */
public final class EventSequencer {
  /** The drivers' steps, in the order they are flushed. */
  public enum Step {
    ROUTES,
    BGP,
    SERVICES,
    POLICY
  }

  /** The drivers, one step at a time. */
  @FunctionalInterface
  public interface Sink {
    /**
     * Brings {@code step}'s driver up to date; {@code changed} says the graph's output for it
     * changed since it last completed (otherwise only the driver's own periodic checks are due).
     * Returns false when the step could not run yet (it stays pending); throws when it failed.
     */
    boolean apply(Step step, boolean changed);
  }

  /** Steps whose inputs changed since they last completed; all of them before the first flush. */
  private final Set<Step> pending = EnumSet.allOf(Step.class);

  /** Adds one pass's changes to those not yet flushed. */
  public void add(CalculationGraph.Changes changes) {
    if (changes.routes()) {
      pending.add(Step.ROUTES);
    }
    if (changes.bgp()) {
      pending.add(Step.BGP);
    }
    if (changes.services()) {
      pending.add(Step.SERVICES);
    }
    if (changes.policy() || changes.identities()) {
      pending.add(Step.POLICY);
    }
  }

  /** Runs every step in order; an exception leaves it and the steps after it pending. */
  public void flush(Sink sink) {
    for (Step step : Step.values()) {
      if (sink.apply(step, pending.contains(step))) {
        pending.remove(step);
      }
    }
  }

  /** True when {@code step}'s inputs changed since it last completed. */
  public boolean pending(Step step) {
    return pending.contains(step);
  }
}
