package dev.tweed.policy;

import dev.tweed.model.Cidr;
import dev.tweed.model.IpFamily;
import java.util.ArrayList;
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

  /**
   * The intent for one family, as its own table enforces it (kube-proxy's and felix's way: one
   * ruleset per family, the same structure in each): endpoints at their address of the family
   * (those without one left out), sets with that family's members only, and ipBlocks of the other
   * family dropped, so that a rule whose only peers are of the other family allows nothing here.
   * IPv6 sets are renamed {@code tw6-...}: iptables' ipsets are one namespace for both families.
   */
  public PolicyIntent forFamily(IpFamily family) {
    List<Endpoint> eps = new ArrayList<>();
    for (Endpoint e : endpoints) {
      e.ips().stream()
          .filter(a -> IpFamily.of(a) == family)
          .findFirst()
          .ifPresent(
              a ->
                  eps.add(
                      new Endpoint(
                          e.pod(),
                          e.hostInterface(),
                          List.of(a),
                          e.ingressPolicies(),
                          e.egressPolicies())));
    }
    List<CompiledPolicy> ps = new ArrayList<>();
    for (CompiledPolicy p : policies) {
      ps.add(
          new CompiledPolicy(
              p.qualifiedName(),
              p.id(),
              matchesOf(p.ingress(), family),
              matchesOf(p.egress(), family)));
    }
    List<AddressSet> ss = new ArrayList<>();
    for (AddressSet s : sets) {
      TreeSet<String> members = new TreeSet<>();
      for (String m : s.members()) {
        int comma = m.indexOf(',');
        if (IpFamily.of(comma < 0 ? m : m.substring(0, comma)) == family) {
          members.add(m);
        }
      }
      ss.add(new AddressSet(setName(s.name(), family), s.kind(), members, s.comment()));
    }
    return new PolicyIntent(eps, ps, ss);
  }

  private static List<Match> matchesOf(List<Match> matches, IpFamily family) {
    List<Match> out = new ArrayList<>();
    for (Match m : matches) {
      PeerMatch peer =
          switch (m.peer()) {
            case AnyPeer a -> a;
            case PeerSet s -> new PeerSet(setName(s.set(), family));
            case Block b -> {
              if (Cidr.parse(b.cidr()).family() != family) {
                yield null;
              }
              yield new Block(b.cidr(), b.except(), setName(b.set(), family));
            }
          };
      PortMatch port =
          m.port() instanceof NamedPortSet n
              ? new NamedPortSet(setName(n.set(), family))
              : m.port();
      if (peer != null) {
        out.add(new Match(m.rule(), peer, port));
      }
    }
    return out;
  }

  private static String setName(String name, IpFamily family) {
    return family == IpFamily.IPV4 || !name.startsWith("tw-") ? name : "tw6-" + name.substring(3);
  }

  /**
   * A local pod's veth and addresses, and the policies (by qualified name) that isolate it. Within
   * one family's intent the endpoint has that family's address alone.
   */
  public record Endpoint(
      String pod,
      String hostInterface,
      List<String> ips,
      Optional<List<String>> ingressPolicies,
      Optional<List<String>> egressPolicies) {
    public Endpoint {
      ips = List.copyOf(ips);
    }

    /** The primary address: the family's own in one family's intent. */
    public String ip() {
      return ips.getFirst();
    }
  }

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
