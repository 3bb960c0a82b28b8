package dev.tweed.observe;

import dev.tweed.ebpf.FlowEvent;
import dev.tweed.ebpf.Identities;
import dev.tweed.ebpf.LbService;
import dev.tweed.policy.PolicyAllowers;
import dev.tweed.policy.PolicyIntent;
import dev.tweed.policy.PolicyPod;
import dev.tweed.proxy.ServicePort;
import java.util.Collection;
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
      PolicyIntent intent, List<PolicyPod> pods, Map<String, Map<String, String>> namespaces) {
    Map<String, FlowEnricher.PodRef> byIp = new HashMap<>();
    for (PolicyPod p : pods) {
      p.ip()
          .ifPresent(
              ip ->
                  byIp.put(
                      ip,
                      new FlowEnricher.PodRef(
                          p.namespace(),
                          p.name(),
                          Identities.labels(
                              p.namespace(),
                              p.labels(),
                              namespaces.getOrDefault(p.namespace(), Map.of())))));
    }
    Map<String, List<String>> ingress = new HashMap<>();
    Map<String, List<String>> egress = new HashMap<>();
    for (var e : intent.endpoints()) {
      e.ingressPolicies().ifPresent(l -> ingress.put(e.pod(), l));
      e.egressPolicies().ifPresent(l -> egress.put(e.pod(), l));
    }
    PolicyAllowers allowers = new PolicyAllowers(intent);
    synchronized (enricher) {
      var c = enricher.context();
      enricher.context(
          new FlowEnricher.Context(byIp, ingress, egress, c.servicesByFrontend(), allowers));
    }
  }

  /** The proxy's service ports, named at their ClusterIPs, NodePorts and external addresses. */
  public void services(List<ServicePort> ports, List<String> nodeIps) {
    Map<String, String> out = new HashMap<>();
    for (ServicePort p : ports) {
      int proto =
          switch (p.protocol()) {
            case "UDP" -> 17;
            case "TCP" -> 6;
            default -> 132;
          };
      String name = p.portNameString();
      out.put(p.clusterIp() + ":" + p.port() + "/" + proto, name);
      if (p.nodePort() != 0) {
        nodeIps.forEach(ip -> out.put(ip + ":" + p.nodePort() + "/" + proto, name));
      }
      p.externalIps().forEach(ip -> out.put(ip + ":" + p.port() + "/" + proto, name));
      p.loadBalancerIps().forEach(ip -> out.put(ip + ":" + p.port() + "/" + proto, name));
    }
    services(out);
  }

  /** The eBPF datapath's services, named at each of their frontends. */
  public void services(Collection<LbService> services) {
    Map<String, String> out = new HashMap<>();
    for (LbService s : services) {
      String port = s.key().substring(0, s.key().lastIndexOf('/'));
      s.frontends().forEach(f -> out.put(f.ip() + ":" + f.port() + "/" + f.protocol(), port));
    }
    services(out);
  }

  /** Service ports ({@code ns/name:port}) by frontend ({@code ip:port/protocol number}). */
  private void services(Map<String, String> byFrontend) {
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
