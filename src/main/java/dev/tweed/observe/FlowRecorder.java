package dev.tweed.observe;

import dev.tweed.ebpf.FlowEvent;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An agent's flows: events from whichever source its datapath has (the eBPF programs' ring buffer,
 * the kernel's conntrack events) turned into flows in words and kept in a bounded ring for {@code
 * tweed observe}, counted by verdict for the metrics.
 */
public final class FlowRecorder {
  /** How many recent flows an agent keeps. */
  public static final int CAPACITY = 8192;

  private final FlowRing ring = new FlowRing(CAPACITY);
  private final FlowEnricher enricher;
  private final Map<String, AtomicLong> byVerdict = new ConcurrentHashMap<>();

  public FlowRecorder(String node) {
    this.enricher = new FlowEnricher(node);
  }

  public void record(FlowEvent e) {
    ring.add(seq -> enricher.enrich(seq, e));
    byVerdict.computeIfAbsent(e.verdict(), v -> new AtomicLong()).incrementAndGet();
  }

  /**
   * Pods (by address, with their labels as Cilium writes them), the policies isolating each local
   * pod, by direction, and the node's compiled policy (which rules allowed a connection).
   */
  public void pods(
      Map<String, FlowEnricher.PodRef> byIp,
      Map<String, List<String>> ingressPolicies,
      Map<String, List<String>> egressPolicies,
      dev.tweed.policy.PolicyAllowers allowers) {
    synchronized (enricher) {
      var c = enricher.context();
      enricher.context(
          new FlowEnricher.Context(
              new HashMap<>(byIp),
              ingressPolicies,
              egressPolicies,
              c.servicesByFrontend(),
              allowers));
    }
  }

  /** Service ports ({@code ns/name:port}) by frontend ({@code ip:port/protocol number}). */
  public void services(Map<String, String> byFrontend) {
    synchronized (enricher) {
      var c = enricher.context();
      enricher.context(
          new FlowEnricher.Context(
              c.podsByIp(),
              c.ingressPolicies(),
              c.egressPolicies(),
              Map.copyOf(byFrontend),
              c.allowers()));
    }
  }

  public FlowRing.Page after(long seq) {
    return ring.after(seq);
  }

  public Map<String, Long> byVerdict() {
    Map<String, Long> out = new TreeMap<>();
    byVerdict.forEach((k, v) -> out.put(k, v.get()));
    return out;
  }

  public long overwritten() {
    return ring.overwritten();
  }
}
