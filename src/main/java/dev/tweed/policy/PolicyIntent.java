package dev.tweed.policy;

import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * What one node must enforce: for each local pod, the policies that isolate it in each direction
 * (empty when none selects it: all traffic allowed), each such policy compiled into matches, and
 * the address sets those matches refer to. Renderers turn it into rules without further lookups.
 */
public record PolicyIntent(
    List<Endpoint> endpoints, List<CompiledPolicy> policies, List<AddressSet> sets) {
  public PolicyIntent {
    endpoints = List.copyOf(endpoints);
    policies = List.copyOf(policies);
    sets = List.copyOf(sets);
  }

  /** True when some endpoint is isolated by the policy in that direction. */
  public boolean isolates(String policy, boolean ingress) {
    return isolating(ingress).contains(policy);
  }

  /** The policies that isolate some endpoint in that direction (one pass over the endpoints). */
  public Set<String> isolating(boolean ingress) {
    Set<String> out = new HashSet<>();
    for (Endpoint e : endpoints) {
      (ingress ? e.ingressPolicies() : e.egressPolicies()).ifPresent(out::addAll);
    }
    return out;
  }

  /** A local pod's veth and address, and the policies (by qualified name) that isolate it. */
  public record Endpoint(
      String pod,
      String hostInterface,
      String ip,
      Optional<List<String>> ingressPolicies,
      Optional<List<String>> egressPolicies) {}

  /** A policy as matches; a packet allowed by any match of any rule is allowed by the policy. */
  public record CompiledPolicy(
      String qualifiedName, String id, List<Match> ingress, List<Match> egress) {
    public CompiledPolicy {
      ingress = List.copyOf(ingress);
      egress = List.copyOf(egress);
    }
  }

  /** A peer condition AND a port condition, from rule {@code rule} of its direction. */
  public record Match(int rule, PeerMatch peer, PortMatch port) {}

  /** Who is on the other end (the source for ingress, the destination for egress). */
  public sealed interface PeerMatch permits AnyPeer, PeerSet, Block {}

  public record AnyPeer() implements PeerMatch {}

  /** Addresses of the pods a peer selects, as a named set. */
  public record PeerSet(String set) implements PeerMatch {}

  /**
   * An ipBlock: inside {@code cidr}, outside every {@code except}; {@code set} names it where a
   * dataplane needs a set to express the exceptions.
   */
  public record Block(String cidr, List<String> except, String set) implements PeerMatch {
    public Block {
      except = List.copyOf(except);
    }
  }

  /** Which protocol and destination port. */
  public sealed interface PortMatch permits AnyPort, Protocol, PortRange, NamedPortSet {}

  public record AnyPort() implements PortMatch {}

  /** Every port of a protocol. */
  public record Protocol(String protocol) implements PortMatch {}

  /** {@code from..to} inclusive ({@code from == to} for one port). */
  public record PortRange(String protocol, int from, int to) implements PortMatch {}

  /**
   * A named port, resolved per destination pod: a set of (pod address, protocol, port); matched
   * against the destination address and port.
   */
  public record NamedPortSet(String set) implements PortMatch {}

  /** A named set: plain addresses, or address-protocol-port triples for named ports. */
  public record AddressSet(String name, Kind kind, SortedSet<String> members, String comment) {
    /** ADDRESSES members are {@code 10.0.0.1}; ADDRESS_PORTS members {@code 10.0.0.1,tcp:80}. */
    public enum Kind {
      ADDRESSES,
      ADDRESS_PORTS
    }

    public AddressSet {
      members = Collections.unmodifiableSortedSet(new TreeSet<>(members));
    }
  }
}
