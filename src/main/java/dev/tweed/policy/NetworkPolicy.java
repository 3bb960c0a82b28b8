package dev.tweed.policy;

import java.util.List;
import java.util.Optional;

/**
 * A networking.k8s.io/v1 NetworkPolicy after defaulting: {@code ingress}/{@code egress} are the
 * rule lists when the policy has that type (an empty list denies everything in that direction) and
 * empty when it does not.
 */
public record NetworkPolicy(
    String namespace,
    String name,
    LabelSelector podSelector,
    Optional<List<Rule>> ingress,
    Optional<List<Rule>> egress) {

  /** One ingress or egress rule: any peer, combined with any port. An empty list is "all". */
  public record Rule(List<Peer> peers, List<PolicyPort> ports) {
    public Rule {
      peers = List.copyOf(peers);
      ports = List.copyOf(ports);
    }
  }

  /** Whom a rule lets in (ingress) or out to (egress). */
  public sealed interface Peer permits PodPeer, IpBlockPeer {}

  /**
   * Pods matching {@code podSelector} in the namespaces matching {@code namespaceSelector}; an
   * absent namespace selector means the policy's own namespace.
   */
  public record PodPeer(Optional<LabelSelector> namespaceSelector, LabelSelector podSelector)
      implements Peer {}

  /** Addresses in {@code cidr} but in none of {@code except}. */
  public record IpBlockPeer(String cidr, List<String> except) implements Peer {
    public IpBlockPeer {
      except = List.copyOf(except);
    }
  }

  /**
   * A port: a protocol with every port, one port, a range {@code port..endPort}, or a named
   * container port resolved on the destination pod.
   */
  public record PolicyPort(
      String protocol, Optional<Integer> port, Optional<String> named, Optional<Integer> endPort) {}

  public String qualifiedName() {
    return namespace + "/" + name;
  }
}
