package dev.tweed.observe;

import dev.tweed.ebpf.FlowEvent;
import dev.tweed.model.IpAddress;
import dev.tweed.policy.PolicyAllowers;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Turns the programs' events into flows in words: pods by address (with their labels), the policies
 * that isolate a pod in the direction a policy drop concerned, the policy rules that let a
 * connection through, the Service a translated flow was sent to. It works from a snapshot of what
 * the agent knows, replaced as that changes.
 */
public final class FlowEnricher {
  /** A pod: namespace, name, labels as Hubble prints them ({@code k8s:app=web}). */
  public record PodRef(String namespace, String name, List<String> labels) {}

  /**
   * What the agent knows: pods by address; by pod ({@code ns/name}) the policies isolating it in
   * each direction; Service ports ({@code ns/name:port}) by frontend ({@code ip:port/protocol}).
   */
  public record Context(
      Map<String, PodRef> podsByIp,
      Map<String, List<String>> ingressPolicies,
      Map<String, List<String>> egressPolicies,
      Map<String, String> servicesByFrontend,
      PolicyAllowers allowers) {
    public static final Context EMPTY =
        new Context(Map.of(), Map.of(), Map.of(), Map.of(), PolicyAllowers.NONE);
  }

  private final String node;
  private volatile Context context = Context.EMPTY;

  /** CLOCK_MONOTONIC to wall clock, as it was when the enricher started. */
  private final long wallMinusMonoNanos;

  public FlowEnricher(String node) {
    this.node = node;
    Instant now = Instant.now();
    this.wallMinusMonoNanos =
        now.getEpochSecond() * 1_000_000_000L + now.getNano() - System.nanoTime();
  }

  public void context(Context c) {
    this.context = c;
  }

  public Context context() {
    return context;
  }

  public Flow enrich(long seq, FlowEvent e) {
    Context c = context;
    String proto =
        switch (e.protocol()) {
          case 6 -> "TCP";
          case 17 -> "UDP";
          case 1 -> "ICMPv4";
          default -> "IP" + e.protocol();
        };
    // A masqueraded request is shown from its client, as the client sent it.
    boolean masqueraded = e.translated() && !e.client().equals(e.source());
    Flow.Endpoint src =
        side(
            c,
            masqueraded ? e.client() : e.source(),
            masqueraded ? e.clientPort() : e.sourcePort());
    Flow.Endpoint dst = side(c, e.destination(), e.destinationPort());
    Optional<String> service = Optional.empty();
    Optional<String> backend = Optional.empty();
    if (e.translated()) {
      service =
          Optional.ofNullable(
              c.servicesByFrontend()
                  .get(e.frontend() + ":" + e.frontendPort() + "/" + e.protocol()));
      backend = Optional.of(IpAddress.hostPort(e.destination(), e.destinationPort()));
    } else if (e.verdict().equals("REJECTED")) {
      service =
          Optional.ofNullable(
              c.servicesByFrontend()
                  .get(e.destination() + ":" + e.destinationPort() + "/" + e.protocol()));
    }
    List<String> deniedBy = List.of();
    if (e.reason().equals("policy-denied")) {
      // The pod the direction is about: the receiver for ingress, the sender for egress.
      Flow.Endpoint isolated = e.direction().equals("ingress") ? dst : src;
      String pod = isolated.namespace().orElse("") + "/" + isolated.pod().orElse("");
      deniedBy =
          (e.direction().equals("ingress") ? c.ingressPolicies() : c.egressPolicies())
              .getOrDefault(pod, List.of());
    }
    List<PolicyAllowers.Allower> allowedBy = List.of();
    if (e.verdict().equals("FORWARDED")) {
      // As policy judged it: the backend and its port, from the (masqueraded) source.
      String from = masqueraded ? e.client() : e.source();
      allowedBy = new ArrayList<>();
      allowedBy.addAll(
          c.allowers().allowers(false, from, e.destination(), proto, e.destinationPort()));
      allowedBy.addAll(
          c.allowers().allowers(true, e.source(), e.destination(), proto, e.destinationPort()));
    }
    long wall = e.monotonicNanos() + wallMinusMonoNanos;
    return new Flow(
        seq,
        Instant.ofEpochSecond(wall / 1_000_000_000L, wall % 1_000_000_000L),
        node,
        e.verdict(),
        e.reason(),
        e.direction(),
        proto,
        src,
        dst,
        deniedBy,
        allowedBy,
        service,
        backend,
        false,
        e.program(),
        e.ifindex());
  }

  private static Flow.Endpoint side(Context c, String ip, int port) {
    PodRef p = c.podsByIp().get(ip);
    return p == null
        ? new Flow.Endpoint(ip, port, Optional.empty(), Optional.empty(), List.of())
        : new Flow.Endpoint(
            ip, port, Optional.of(p.namespace()), Optional.of(p.name()), p.labels());
  }
}
