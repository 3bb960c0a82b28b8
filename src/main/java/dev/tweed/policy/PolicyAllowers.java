package dev.tweed.policy;

import dev.tweed.model.Cidr;
import dev.tweed.model.IpAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Which policy rules let a connection through, evaluated over a node's compiled policy the way its
 * dataplanes enforce it: for a local pod isolated in a direction, every rule of every policy
 * isolating it whose peer and port match ({@code tweed observe}'s {@code ingress_allowed_by} and
 * {@code egress_allowed_by}).
 */
public final class PolicyAllowers {
  /** A rule that allowed: the policy ({@code namespace/name}), its direction, the rule's index. */
  public record Allower(String policy, boolean ingress, int rule) {}

  private final Map<String, PolicyIntent.Endpoint> endpointsByIp = new HashMap<>();
  private final Map<String, PolicyIntent.CompiledPolicy> policies = new HashMap<>();
  private final Map<String, PolicyIntent.AddressSet> sets = new HashMap<>();

  public PolicyAllowers(PolicyIntent intent) {
    intent.endpoints().forEach(e -> e.ips().forEach(ip -> endpointsByIp.put(ip, e)));
    intent.policies().forEach(p -> policies.put(p.qualifiedName(), p));
    intent.sets().forEach(s -> sets.put(s.name(), s));
  }

  public static final PolicyAllowers NONE =
      new PolicyAllowers(new PolicyIntent(List.of(), List.of(), List.of()));

  /**
   * The rules that let {@code src} reach {@code dst} on {@code protocol}/{@code port}, in the
   * {@code ingress} direction (of {@code dst}) or the egress one (of {@code src}); empty where that
   * pod is not local or not isolated in that direction.
   */
  public List<Allower> allowers(
      boolean ingress, String src, String dst, String protocol, int port) {
    PolicyIntent.Endpoint e = endpointsByIp.get(ingress ? dst : src);
    if (e == null) {
      return List.of();
    }
    Optional<List<String>> isolating = ingress ? e.ingressPolicies() : e.egressPolicies();
    List<Allower> out = new ArrayList<>();
    for (String name : isolating.orElse(List.of())) {
      PolicyIntent.CompiledPolicy p = policies.get(name);
      if (p == null) {
        continue;
      }
      for (PolicyIntent.Match m : ingress ? p.ingress() : p.egress()) {
        if (peer(m.peer(), ingress ? src : dst) && port(m.port(), dst, protocol, port)) {
          Allower a = new Allower(name, ingress, m.rule());
          if (!out.contains(a)) {
            out.add(a);
          }
        }
      }
    }
    return out;
  }

  private boolean peer(PolicyIntent.PeerMatch m, String ip) {
    return switch (m) {
      case PolicyIntent.AnyPeer a -> true;
      case PolicyIntent.PeerSet s -> members(s.set()).contains(ip);
      case PolicyIntent.Block b ->
          Cidr.parse(b.cidr()).contains(IpAddress.parse(ip))
              && b.except().stream().noneMatch(x -> Cidr.parse(x).contains(IpAddress.parse(ip)));
    };
  }

  private boolean port(PolicyIntent.PortMatch m, String dst, String protocol, int port) {
    String proto = protocol.toLowerCase(Locale.ROOT);
    return switch (m) {
      case PolicyIntent.AnyPort a -> true;
      case PolicyIntent.Protocol p -> p.protocol().equalsIgnoreCase(proto);
      case PolicyIntent.PortRange r ->
          r.protocol().equalsIgnoreCase(proto) && port >= r.from() && port <= r.to();
      case PolicyIntent.NamedPortSet n -> members(n.set()).contains(dst + "," + proto + ":" + port);
    };
  }

  private Set<String> members(String set) {
    PolicyIntent.AddressSet s = sets.get(set);
    return s == null ? Set.of() : s.members();
  }
}
