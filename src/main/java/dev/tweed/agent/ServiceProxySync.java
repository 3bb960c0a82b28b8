package dev.tweed.agent;

import dev.tweed.dataplane.IptablesWriter;
import dev.tweed.dataplane.NftablesWriter;
import dev.tweed.dataplane.RulesetGeneration;
import dev.tweed.model.Cidr;
import dev.tweed.model.IpFamily;
import dev.tweed.model.ProxyMode;
import dev.tweed.proxy.IptablesRuleset;
import dev.tweed.proxy.IptablesServiceRenderer;
import dev.tweed.proxy.NftablesServiceRenderer;
import dev.tweed.proxy.ProxyNode;
import dev.tweed.proxy.ServicePort;
import dev.tweed.proxy.ServicePortIndex;
import dev.tweed.rules.NftablesRuleset;
import dev.tweed.sys.CommandFailedException;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the node's service rules equal to what the renderer makes of the current Services and
 * EndpointSlices: the Services that changed are rendered and written (their blocks alone, and the
 * shared dispatch chains when those moved), and re-applied every {@link #FULL_SYNC_NANOS} to repair
 * anything changed behind the agent's back. A failed restore leaves the previous rules in place
 * (the kernel commits all or nothing) and is retried on the next pass.
 */
final class ServiceProxySync {
  private static final Logger LOG = LoggerFactory.getLogger(ServiceProxySync.class);
  private static final Pattern FAILED_LINE = Pattern.compile("line (\\d+) failed");
  private final IptablesWriter writer;
  private final NftablesWriter nftWriter;
  private final ProxyMode mode;
  private final String serviceCidr;
  private final IpFamily family;
  private NftablesRuleset lastNft;
  private NftablesServiceRenderer nftRenderer;
  private IptablesRuleset lastApplied;
  private IptablesServiceRenderer renderer;
  private ProxyNode renderedFor;
  private final SyncPacer pacer = new SyncPacer();
  private final RulesetGeneration generation;

  /**
   * @param mode kube-proxy's iptables layout or its nftables layout
   * @param serviceCidr the ClusterIP range; nftables mode drops traffic to unallocated ones
   * @param generation the namespace's ruleset generation, which every writer of the agent notes
   */
  ServiceProxySync(ProxyMode mode, String serviceCidr, RulesetGeneration generation) {
    this.mode = mode;
    this.generation = generation;
    this.serviceCidr = serviceCidr;
    this.family = Cidr.parse(serviceCidr).family();
    this.writer = IptablesWriter.here(family);
    this.nftWriter = NftablesWriter.here().blocksStandAlone();
  }

  /** The service ports in the rules written last. */
  int servicePorts() {
    if (mode == ProxyMode.NFTABLES) {
      return lastNft == null ? 0 : lastNft.services().size();
    }
    return lastApplied == null ? 0 : lastApplied.services().size();
  }

  /** True when the periodic full sync (drift repair) is due. */
  boolean fullSyncDue() {
    return pacer.fullSyncDue();
  }

  /** True after a failed sync, until one succeeds. */
  boolean retryPending() {
    return pacer.retryPending();
  }

  /**
   * Renders and writes the Services that changed in {@code index} since the last sync (every
   * Service, for a new node), after handing them to {@code taken} ({@code namespace/name} to its
   * ports now); while backing off after a failure nothing is taken: the changes wait in the index.
   */
  void sync(
      ProxyNode node, ServicePortIndex index, Consumer<Map<String, List<ServicePort>>> taken) {
    if (!pacer.mayRun()) {
      return;
    }
    boolean fresh = !node.equals(renderedFor);
    if (fresh) {
      renderedFor = node;
      renderer = null;
      nftRenderer = null;
      index.drainChanges();
    }
    Map<String, List<ServicePort>> changes = fresh ? index.all() : index.drainChanges();
    taken.accept(changes);
    // Drift: compared when another writer moved the ruleset generation since the agent's last
    // write (one netlink request, no listing), or when the full comparison is due.
    boolean compare = fresh || pacer.compareDue(generation::touchedByOthers);
    try {
      switch (mode) {
        // A new node's renderer knows nothing of the blocks written before: the writer looks at
        // every chain, as it does for drift.
        case NFTABLES -> syncNftables(node, changes, compare);
        case IPTABLES -> syncIptables(node, changes, compare);
      }
    } catch (RuntimeException e) {
      // The previous rules stay in place meanwhile; the changes taken are in the renderer, and
      // the writer, having forgotten the table, writes it whole on the retry.
      LOG.warn("event=proxy-sync-retry retry_in_ms={}", pacer.failed());
      throw e;
    }
  }

  private void syncIptables(ProxyNode node, Map<String, List<ServicePort>> changes, boolean due) {
    if (renderer == null) {
      renderer = new IptablesServiceRenderer(node);
    }
    var update = renderer.update(changes);
    IptablesRuleset rules = update.ruleset();
    boolean same =
        lastApplied != null
            && update.changes().isEmpty()
            && rules.filterTable().equals(lastApplied.filterTable())
            && rules.natDispatch().equals(lastApplied.natDispatch());
    if (same && !due) {
      return;
    }
    long start = System.nanoTime();
    IptablesWriter.SyncStats stats;
    try {
      stats = writer.sync(rules, update.changes(), due);
      generation.ownWrite();
    } catch (CommandFailedException e) {
      lastApplied = null;
      LOG.warn(
          "event=proxy-sync-failed line=\"{}\" error=\"{}\"", offendingLine(e), e.stderr().strip());
      throw e;
    } catch (RuntimeException e) {
      lastApplied = null;
      LOG.warn("event=proxy-sync-failed error=\"{}\"", e.getMessage());
      throw e;
    }
    lastApplied = rules;
    pacer.succeeded(stats.full());
    LOG.info(
        "event=proxy-synced family={} full={} service_ports={} written={} chains_deleted={}"
            + " millis={}",
        family.number(),
        stats.full(),
        rules.services().size(),
        stats.servicesWritten(),
        stats.chainsDeleted(),
        (System.nanoTime() - start) / 1_000_000);
  }

  private void syncNftables(ProxyNode node, Map<String, List<ServicePort>> changes, boolean due) {
    if (nftRenderer == null) {
      nftRenderer = new NftablesServiceRenderer(node, serviceCidr);
    }
    var update = nftRenderer.update(changes);
    NftablesRuleset rules = update.ruleset();
    if (lastNft != null && update.changes().isEmpty() && !due) {
      return;
    }
    long start = System.nanoTime();
    IptablesWriter.SyncStats stats;
    try {
      stats = nftWriter.sync(rules, update.changes(), due);
      generation.ownWrite();
    } catch (RuntimeException e) {
      // A refused batch or a failed nft run: the next pass writes again, whatever it is told.
      lastNft = null;
      LOG.warn(
          "event=proxy-sync-failed mode=nftables error=\"{}\"",
          e instanceof CommandFailedException c ? c.stderr().strip() : e.getMessage());
      throw e;
    }
    lastNft = rules;
    pacer.succeeded(stats.full());
    LOG.info(
        "event=proxy-synced mode=nftables full={} service_ports={} written={} millis={}",
        stats.full(),
        rules.services().size(),
        stats.servicesWritten(),
        (System.nanoTime() - start) / 1_000_000);
  }

  private static String offendingLine(CommandFailedException e) {
    Matcher m = FAILED_LINE.matcher(e.stderr());
    if (m.find()) {
      String[] lines = e.input().split("\n");
      int n = Integer.parseInt(m.group(1));
      if (n >= 1 && n <= lines.length) {
        return lines[n - 1];
      }
    }
    return "";
  }
}
