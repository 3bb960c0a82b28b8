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
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
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
      // Every address of a pod names it: a dual-stack pod's flows are its own in either family.
      p.ips()
          .forEach(
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

  /** The proxy's service ports by Service, as last named. */
  private final Map<String, List<ServicePort>> portsByService = new HashMap<>();

  /** Each Service's frontends, named: a change renames only its own Service's. */
  private final Map<String, Map<String, String>> frontendsByService = new HashMap<>();

  private List<String> namedNodeIps = List.of();

  /**
   * The proxy's service ports, named at their ClusterIPs, NodePorts and external addresses: the
   * Services that changed ({@code namespace/name} to its ports now, none when it is gone). An
   * endpoint change moves no frontend and so renames nothing.
   */
  public void services(Map<String, List<ServicePort>> changes, List<String> nodeIps) {
    boolean nodeMoved = !nodeIps.equals(namedNodeIps);
    namedNodeIps = List.copyOf(nodeIps);
    changes.forEach(
        (k, ports) -> {
          if (ports.isEmpty()) {
            portsByService.remove(k);
          } else {
            portsByService.put(k, ports);
          }
        });
    Set<String> rename = new HashSet<>(changes.keySet());
    if (nodeMoved) {
      rename.addAll(portsByService.keySet());
    }
    boolean moved = false;
    for (String k : rename) {
      Map<String, String> now = frontends(portsByService.getOrDefault(k, List.of()), nodeIps);
      Map<String, String> was =
          now.isEmpty() ? frontendsByService.remove(k) : frontendsByService.put(k, now);
      moved |= !now.equals(was == null ? Map.of() : was);
    }
    if (moved) {
      Map<String, String> out = new HashMap<>();
      frontendsByService.values().forEach(out::putAll);
      services(out);
    }
  }

  private static Map<String, String> frontends(List<ServicePort> ports, List<String> nodeIps) {
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
    return out;
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
