package dev.tweed.agent;

import dev.tweed.dataplane.IptablesWriter;
import dev.tweed.dataplane.NftablesWriter;
import dev.tweed.model.ProxyMode;
import dev.tweed.proxy.IptablesRuleset;
import dev.tweed.proxy.IptablesServiceRenderer;
import dev.tweed.proxy.NftablesServiceRenderer;
import dev.tweed.proxy.ProxyNode;
import dev.tweed.proxy.ServicePort;
import dev.tweed.rules.NftablesRuleset;
import dev.tweed.sys.CommandFailedException;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the node's service rules equal to what the renderer makes of the current Services and
 * EndpointSlices: applied when they change, and re-applied every {@link #FULL_SYNC_NANOS} to repair
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
  private NftablesRuleset lastNft;
  private NftablesServiceRenderer nftRenderer;
  private ProxyNode nftRenderedFor;
  private IptablesRuleset lastApplied;
  private IptablesServiceRenderer renderer;
  private ProxyNode renderedFor;
  private final SyncPacer pacer = new SyncPacer();

  /**
   * @param mode kube-proxy's iptables layout or its nftables layout
   * @param serviceCidr the ClusterIP range; nftables mode drops traffic to unallocated ones
   */
  ServiceProxySync(ProxyMode mode, String serviceCidr) {
    this.mode = mode;
    this.serviceCidr = serviceCidr;
    this.writer = IptablesWriter.here();
    this.nftWriter = NftablesWriter.here();
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

  /** The service ports the last sync rendered (what flows name Services by). */
  private List<ServicePort> ports = List.of();

  List<ServicePort> ports() {
    return ports;
  }

  /** Returns true when rules were written. */
  boolean sync(ProxyNode node, List<ServicePort> resolved) {
    if (!pacer.mayRun()) {
      return false;
    }
    ports = resolved;
    try {
      boolean wrote =
          switch (mode) {
            case NFTABLES -> syncNftables(node, ports);
            case IPTABLES -> syncIptables(node, ports);
          };
      return wrote;
    } catch (CommandFailedException e) {
      // The previous rules stay in place meanwhile.
      LOG.warn("event=proxy-sync-retry retry_in_ms={}", pacer.failed());
      throw e;
    }
  }

  private boolean syncIptables(ProxyNode node, List<ServicePort> ports) {
    if (renderer == null || !node.equals(renderedFor)) {
      renderer = new IptablesServiceRenderer(node);
      renderedFor = node;
    }
    IptablesRuleset rules = renderer.render(ports);
    boolean due = pacer.fullSyncDue();
    if (rules.equals(lastApplied) && !due) {
      return false;
    }
    long start = System.nanoTime();
    IptablesWriter.SyncStats stats;
    try {
      stats = writer.sync(rules, due);
    } catch (CommandFailedException e) {
      lastApplied = null;
      LOG.warn(
          "event=proxy-sync-failed line=\"{}\" error=\"{}\"", offendingLine(e), e.stderr().strip());
      throw e;
    }
    lastApplied = rules;
    pacer.succeeded(stats.full());
    LOG.info(
        "event=proxy-synced full={} service_ports={} written={} chains_deleted={} millis={}",
        stats.full(),
        rules.services().size(),
        stats.servicesWritten(),
        stats.chainsDeleted(),
        (System.nanoTime() - start) / 1_000_000);
    return true;
  }

  private boolean syncNftables(ProxyNode node, List<ServicePort> ports) {
    if (nftRenderer == null || !node.equals(nftRenderedFor)) {
      nftRenderer = new NftablesServiceRenderer(node, serviceCidr);
      nftRenderedFor = node;
    }
    var rules = nftRenderer.render(ports);
    boolean due = pacer.fullSyncDue();
    if (rules.equals(lastNft) && !due) {
      return false;
    }
    long start = System.nanoTime();
    IptablesWriter.SyncStats stats;
    try {
      stats = nftWriter.sync(rules, due);
    } catch (CommandFailedException e) {
      lastNft = null;
      LOG.warn("event=proxy-sync-failed mode=nftables error=\"{}\"", e.stderr().strip());
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
    return true;
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
