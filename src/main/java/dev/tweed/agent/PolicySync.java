package dev.tweed.agent;

import dev.tweed.dataplane.PolicyDataplane;
import dev.tweed.dataplane.RulesetGeneration;
import dev.tweed.model.IpFamily;
import dev.tweed.model.ProxyMode;
import dev.tweed.policy.PolicyIntent;
import dev.tweed.sys.CommandFailedException;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the node's policy rules equal to the rendering of the current policy intent, in the same
 * mode as the service proxy (iptables rules and ipsets, or the {@code tweed-policy} nftables
 * table): written when the intent changes, only the changed chains and set elements, and compared
 * with the kernel to repair drift when a drift check finds that something else wrote rules (see
 * {@link RulesetGeneration}) or the periodic full comparison is due. A failed write leaves the
 * previous rules in place.
 */
final class PolicySync<R> {
  private static final Logger LOG = LoggerFactory.getLogger(PolicySync.class);
  private final ProxyMode mode;
  private final PolicyDataplane<R> dataplane;
  private final SyncPacer pacer = new SyncPacer();
  private final RulesetGeneration generation;
  private R lastApplied;

  private PolicySync(ProxyMode mode, PolicyDataplane<R> dataplane, RulesetGeneration generation) {
    this.mode = mode;
    this.dataplane = dataplane;
    this.generation = generation;
  }

  /** The rules of {@code family}, in the agent's namespace. */
  static PolicySync<?> here(ProxyMode mode, IpFamily family, RulesetGeneration generation) {
    return new PolicySync<>(mode, PolicyDataplane.here(mode, family), generation);
  }

  boolean fullSyncDue() {
    return pacer.fullSyncDue();
  }

  boolean retryPending() {
    return pacer.retryPending();
  }

  /** False while backing off after a failed write. */
  boolean mayRun() {
    return pacer.mayRun();
  }

  /**
   * Returns true when rules were written. {@code changed} says the intent may differ from the last
   * one: when it does not and no comparison with the kernel is due, nothing is rendered (at 1,000
   * policies and 1,000 pods a render is most of a drift check's cost).
   */
  boolean sync(Supplier<PolicyIntent> intents, boolean changed) {
    if (!pacer.mayRun()) {
      return false;
    }
    boolean due = pacer.compareDue(() -> dataplane.kernelMayHaveMoved(generation));
    if (!changed && !due && lastApplied != null) {
      return false;
    }
    PolicyIntent intent = intents.get();
    long start = System.nanoTime();
    try {
      R rules = dataplane.render(intent);
      if (rules.equals(lastApplied) && !due) {
        return false;
      }
      boolean full = dataplane.write(rules, due);
      generation.ownWrite();
      lastApplied = rules;
      pacer.succeeded(full);
      LOG.info(
          "event=policy-synced mode={} family={} full={} endpoints={} policies={} millis={}",
          mode.id(),
          dataplane.family().number(),
          full,
          intent.endpoints().size(),
          intent.policies().size(),
          (System.nanoTime() - start) / 1_000_000);
      return true;
    } catch (CommandFailedException e) {
      lastApplied = null;
      LOG.warn(
          "event=policy-sync-failed error=\"{}\" retry_in_ms={}",
          e.stderr().strip(),
          pacer.failed());
      throw e;
    }
  }
}
