package dev.tweed.agent;

import dev.tweed.dataplane.NftablesWriter;
import dev.tweed.dataplane.PolicyIptablesWriter;
import dev.tweed.policy.IptablesPolicyRenderer;
import dev.tweed.policy.IptablesPolicyRuleset;
import dev.tweed.policy.NftablesPolicyRenderer;
import dev.tweed.policy.PolicyIntent;
import dev.tweed.proxy.NftablesRuleset;
import dev.tweed.sys.CommandFailedException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the node's policy rules equal to the rendering of the current policy intent, in the same
 * mode as the service proxy (iptables rules and ipsets, or the {@code tweed-policy} nftables
 * table): written when the intent changes, only the changed chains and set elements, and whole
 * every 30 s to repair drift. A failed write leaves the previous rules in place.
 */
final class PolicySync {
  private static final Logger LOG = LoggerFactory.getLogger(PolicySync.class);
  private final boolean nftables;
  private final IptablesPolicyRenderer iptablesRenderer = new IptablesPolicyRenderer();
  private final NftablesPolicyRenderer nftablesRenderer = new NftablesPolicyRenderer();
  private final PolicyIptablesWriter iptablesWriter = PolicyIptablesWriter.here();
  private final NftablesWriter nftablesWriter = NftablesWriter.here();
  private final SyncPacer pacer = new SyncPacer();
  private Object lastApplied;

  PolicySync(String mode) {
    this.nftables = mode.equals("nftables");
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

  /** Returns true when rules were written. */
  boolean sync(PolicyIntent intent) {
    if (!pacer.mayRun()) {
      return false;
    }
    boolean due = pacer.fullSyncDue();
    long start = System.nanoTime();
    try {
      Object rules;
      boolean full;
      if (nftables) {
        NftablesRuleset r = nftablesRenderer.render(intent);
        if (r.equals(lastApplied) && !due) {
          return false;
        }
        full = nftablesWriter.sync(r, due).full();
        rules = r;
      } else {
        IptablesPolicyRuleset r = iptablesRenderer.render(intent);
        if (r.equals(lastApplied) && !due) {
          return false;
        }
        full = iptablesWriter.sync(r, due).full();
        rules = r;
      }
      lastApplied = rules;
      pacer.succeeded(full);
      LOG.info(
          "event=policy-synced mode={} full={} endpoints={} policies={} millis={}",
          nftables ? "nftables" : "iptables",
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
