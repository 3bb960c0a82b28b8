package dev.tweed.agent;

import java.time.Duration;

/**
 * When the agent's loop runs a pass: after a burst of changes has settled (say, many pods created
 * at once: one pass for all, like kube-proxy's bounded-frequency runner), never later than {@link
 * #MAX_DELAY} after the first of them, and every resync interval without any (the periodic pass
 * that repairs drift).
 */
final class ReconcileTrigger {
  /** Changes are coalesced until quiet for this long... */
  static final Duration QUIET = Duration.ofMillis(100);

  /** ...but never delayed beyond this. */
  static final Duration MAX_DELAY = Duration.ofSeconds(1);

  private final Object wake = new Object();
  private boolean dirty = true;
  private boolean stopped;

  /** When the oldest unreconciled change arrived, and the newest (System.nanoTime). */
  private long firstChange;

  private long lastChange;

  /** A change arrived: a pass is due once it settles. */
  void changed() {
    synchronized (wake) {
      long now = System.nanoTime();
      if (!dirty) {
        firstChange = now;
      }
      lastChange = now;
      dirty = true;
      wake.notifyAll();
    }
  }

  /** Ends every wait now, and every later one at once. */
  void stop() {
    synchronized (wake) {
      stopped = true;
      wake.notifyAll();
    }
  }

  /**
   * Waits for the next pass, at most {@code interval} when nothing changes. Returns true when the
   * pass is periodic (no change woke it): drivers then also look for drift.
   */
  boolean awaitPass(Duration interval) throws InterruptedException {
    synchronized (wake) {
      if (!dirty && !stopped) {
        wake.wait(interval.toMillis());
      }
      while (dirty && !stopped) {
        long now = System.nanoTime();
        long wait =
            Math.min(lastChange + QUIET.toNanos() - now, firstChange + MAX_DELAY.toNanos() - now);
        if (wait <= 0) {
          break;
        }
        wake.wait(Math.max(1, wait / 1_000_000));
      }
      boolean periodic = !dirty;
      dirty = false;
      return periodic;
    }
  }
}
