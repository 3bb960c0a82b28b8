package dev.tweed.agent;

import java.util.function.BooleanSupplier;

/**
 * When a sync must run although its inputs did not change: the periodic drift check (every 30 s,
 * cheap where the kernel can say cheaply that nothing moved), the full comparison with the kernel
 * that runs whatever such a check says (every hour: the drift checks see another writer's changes;
 * the full comparison is for what they cannot see, such as a write racing the agent's own, and at
 * 10,000 Services in nftables mode it took 20 to 34 s), and retries after a failure, backed off
 * exponentially (1 s, 2 s, ... 30 s) so that rules the kernel keeps refusing do not turn into a
 * write every pass.
 */
final class SyncPacer {
  private static final long DRIFT_CHECK_NANOS = 30_000_000_000L;
  private static final long FULL_COMPARE_NANOS = 3_600_000_000_000L;
  private static final long MAX_BACKOFF_NANOS = 30_000_000_000L;
  private long lastCheck;
  private long lastFullCompare;
  private int failures;
  private long retryNotBefore;

  /** True when the kernel is due a drift check. */
  boolean fullSyncDue() {
    return lastCheck == 0 || System.nanoTime() - lastCheck > DRIFT_CHECK_NANOS;
  }

  /** True when the kernel is due a full comparison, whatever a cheap check says. */
  boolean fullCompareDue() {
    return lastFullCompare == 0 || System.nanoTime() - lastFullCompare > FULL_COMPARE_NANOS;
  }

  boolean retryPending() {
    return failures > 0;
  }

  /** False while backing off after a failure. */
  boolean mayRun() {
    return System.nanoTime() >= retryNotBefore;
  }

  /**
   * True when the kernel is to be compared with what was written, now: a drift check is due and
   * either the full comparison is due too or {@code kernelMayHaveMoved} says so. A check that
   * finds, cheaply, that nothing moved counts as done: the next is due a period later.
   */
  boolean compareDue(BooleanSupplier kernelMayHaveMoved) {
    if (!fullSyncDue()) {
      return false;
    }
    if (fullCompareDue() || kernelMayHaveMoved.getAsBoolean()) {
      return true;
    }
    lastCheck = System.nanoTime();
    return false;
  }

  void succeeded(boolean full) {
    failures = 0;
    if (full) {
      lastCheck = System.nanoTime();
      lastFullCompare = lastCheck;
    }
  }

  /** Returns the delay before the next attempt, in milliseconds. */
  long failed() {
    failures++;
    long delay = Math.min(MAX_BACKOFF_NANOS, 1_000_000_000L << Math.min(failures - 1, 5));
    retryNotBefore = System.nanoTime() + delay;
    return delay / 1_000_000;
  }
}
