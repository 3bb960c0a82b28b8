package dev.tweed.agent;

/**
 * When a rule sync must run although its inputs did not change: the periodic full sync that repairs
 * drift, and retries after a failure, backed off exponentially (1 s, 2 s, ... 30 s) so that rules
 * the kernel keeps refusing do not turn into a write every pass.
 */
final class SyncPacer {
  private static final long FULL_SYNC_NANOS = 30_000_000_000L;
  private static final long MAX_BACKOFF_NANOS = 30_000_000_000L;
  private long lastFullSync;
  private int failures;
  private long retryNotBefore;

  boolean fullSyncDue() {
    return lastFullSync == 0 || System.nanoTime() - lastFullSync > FULL_SYNC_NANOS;
  }

  boolean retryPending() {
    return failures > 0;
  }

  /** False while backing off after a failure. */
  boolean mayRun() {
    return System.nanoTime() >= retryNotBefore;
  }

  void succeeded(boolean full) {
    failures = 0;
    if (full) {
      lastFullSync = System.nanoTime();
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
