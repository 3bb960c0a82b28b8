package dev.tweed.policy;

import dev.tweed.policy.PolicyIntent.AddressSet;
import dev.tweed.policy.PolicyIntent.Match;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Predicate;
import org.apache.commons.codec.binary.Base32;

/**
 * Resolves NetworkPolicies against pods and namespaces into what one node enforces (pure). Only
 * policies that select a pod on this node are compiled, so a node carries rules for its own pods
 * only. Named ports are resolved per destination pod: for ingress against the selected pods, for
 * egress against the peer pods (every pod when the peer is any address or an ipBlock).
 */
public final class PolicyCalculator {
  /** Kubernetes labels every namespace with its own name. */
  public static final String NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name";

  private static final Base32 BASE32 = new Base32();
  private final String nodeName;

  public PolicyCalculator(String nodeName) {
    this.nodeName = nodeName;
  }

  /** A stable 16-character identifier of a policy, as kube-proxy hashes its chain names. */
  public static String id(String qualifiedName) {
    try {
      byte[] sum =
          MessageDigest.getInstance("SHA-256")
              .digest(qualifiedName.getBytes(StandardCharsets.UTF_8));
      return BASE32.encodeAsString(sum).substring(0, 16);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  public PolicyIntent calculate(
      List<PolicyPod> pods,
      Map<String, Map<String, String>> namespaceLabels,
      List<NetworkPolicy> policies) {
    Map<String, Map<String, String>> nsLabels = withNameLabels(namespaceLabels);
    List<PolicyPod> addressed =
        pods.stream()
            .filter(p -> p.ip().isPresent())
            .sorted(Comparator.comparing(PolicyPod::qualifiedName))
            .toList();
    List<PolicyPod> local =
        addressed.stream()
            .filter(p -> p.node().equals(Optional.of(nodeName)) && p.hostInterface().isPresent())
            .toList();
    List<NetworkPolicy> sorted =
        policies.stream().sorted(Comparator.comparing(NetworkPolicy::qualifiedName)).toList();

    List<PolicyIntent.Endpoint> endpoints = new ArrayList<>();
    Map<String, NetworkPolicy> used = new TreeMap<>();
    for (PolicyPod pod : local) {
      List<String> in = new ArrayList<>();
      List<String> out = new ArrayList<>();
      for (NetworkPolicy p : sorted) {
        if (!selects(p, pod)) {
          continue;
        }
        if (p.ingress().isPresent()) {
          in.add(p.qualifiedName());
          used.put(p.qualifiedName(), p);
        }
        if (p.egress().isPresent()) {
          out.add(p.qualifiedName());
          used.put(p.qualifiedName(), p);
        }
      }
      endpoints.add(PolicyCalculator.endpoint(pod, in, out));
    }

    Map<String, AddressSet> sets = new TreeMap<>();
    List<PolicyIntent.CompiledPolicy> compiled = new ArrayList<>();
    for (NetworkPolicy p : used.values()) {
      Compiled c = compile(p, addressed, local, nsLabels);
      compiled.add(c.policy());
      sets.putAll(c.sets());
    }
    return new PolicyIntent(endpoints, compiled, List.copyOf(sets.values()));
  }

  /** A local pod's endpoint, isolated in each direction some policy names. */
  static PolicyIntent.Endpoint endpoint(PolicyPod pod, List<String> in, List<String> out) {
    return new PolicyIntent.Endpoint(
        pod.qualifiedName(),
        pod.hostInterface().get(),
        pod.ips(),
        in.isEmpty() ? Optional.empty() : Optional.of(in),
        out.isEmpty() ? Optional.empty() : Optional.of(out));
  }

  /** The namespaces' labels as selectors see them: with the name label Kubernetes adds. */
  static Map<String, Map<String, String>> withNameLabels(
      Map<String, Map<String, String>> namespaceLabels) {
    Map<String, Map<String, String>> nsLabels = new HashMap<>();
    namespaceLabels.forEach(
        (ns, labels) -> {
          Map<String, String> l = new TreeMap<>(labels);
          l.put(NAMESPACE_NAME_LABEL, ns);
          nsLabels.put(ns, l);
        });
    return nsLabels;
  }

  /** One policy compiled, and the sets its matches name. */
  record Compiled(PolicyIntent.CompiledPolicy policy, Map<String, AddressSet> sets) {}

  /**
   * Compiles one policy against the addressed pods (sorted by name), the local ones among them, and
   * the namespaces' labels (with their name labels).
   */
  static Compiled compile(
      NetworkPolicy p,
      List<PolicyPod> addressed,
      List<PolicyPod> local,
      Map<String, Map<String, String>> nsLabels) {
    Map<String, AddressSet> sets = new TreeMap<>();
    Compiler c = new Compiler(p, addressed, local, nsLabels, sets);
    PolicyIntent.CompiledPolicy compiled =
        new PolicyIntent.CompiledPolicy(
            p.qualifiedName(),
            id(p.qualifiedName()),
            c.compile(p.ingress().orElse(List.of()), true),
            c.compile(p.egress().orElse(List.of()), false));
    return new Compiled(compiled, sets);
  }

  static boolean selects(NetworkPolicy p, PolicyPod pod) {
    return p.namespace().equals(pod.namespace()) && p.podSelector().matches(pod.labels());
  }

  /** Whether a pod selector of a policy's peer picks this pod (given the namespaces' labels). */
  static boolean peerSelects(
      NetworkPolicy policy,
      NetworkPolicy.PodPeer pp,
      PolicyPod pod,
      Map<String, Map<String, String>> nsLabels) {
    boolean nsOk =
        pp.namespaceSelector()
            .map(s -> s.matches(nsLabels.getOrDefault(pod.namespace(), Map.of())))
            .orElse(pod.namespace().equals(policy.namespace()));
    return nsOk && pp.podSelector().matches(pod.labels());
  }

  /** Compiles one policy's rules, adding the sets they need. */
  private record Compiler(
      NetworkPolicy policy,
      List<PolicyPod> pods,
      List<PolicyPod> local,
      Map<String, Map<String, String>> nsLabels,
      Map<String, AddressSet> sets) {

    List<Match> compile(List<NetworkPolicy.Rule> rules, boolean ingress) {
      List<Match> out = new ArrayList<>();
      String setPrefix =
          "tw-" + id(policy.qualifiedName()).substring(0, 8) + (ingress ? "-i" : "-e");
      for (int r = 0; r < rules.size(); r++) {
        NetworkPolicy.Rule rule = rules.get(r);
        List<NetworkPolicy.Peer> peers = rule.peers();
        List<Optional<NetworkPolicy.Peer>> peerList = new ArrayList<>();
        if (peers.isEmpty()) {
          peerList.add(Optional.empty());
        } else {
          peers.forEach(x -> peerList.add(Optional.of(x)));
        }
        List<Optional<NetworkPolicy.PolicyPort>> portList = new ArrayList<>();
        if (rule.ports().isEmpty()) {
          portList.add(Optional.empty());
        } else {
          rule.ports().forEach(x -> portList.add(Optional.of(x)));
        }
        for (int pi = 0; pi < peerList.size(); pi++) {
          Optional<NetworkPolicy.Peer> peer = peerList.get(pi);
          String peerTag = setPrefix + r + "-p" + pi;
          for (int qi = 0; qi < portList.size(); qi++) {
            Optional<NetworkPolicy.PolicyPort> port = portList.get(qi);
            if (port.isPresent() && port.get().named().isPresent()) {
              // The set depends on the peer only for egress to a pod selector; otherwise one set
              // serves every peer of the rule.
              boolean perPeer =
                  !ingress && peer.isPresent() && peer.get() instanceof NetworkPolicy.PodPeer;
              String set = perPeer ? peerTag + "n" + qi : setPrefix + r + "-n" + qi;
              out.add(named(r, ingress, peer, port.get(), peerTag, set));
            } else {
              out.add(new Match(r, peerMatch(peer, peerTag), portMatch(port)));
            }
          }
        }
      }
      return out;
    }

    private Match named(
        int rule,
        boolean ingress,
        Optional<NetworkPolicy.Peer> peer,
        NetworkPolicy.PolicyPort port,
        String peerTag,
        String setName) {
      String portName = port.named().get();
      // The destination pods that may carry the name: for ingress the selected (local) pods; for
      // egress the peer's pods, or every pod when the peer is not a pod selector.
      List<PolicyPod> destinations;
      PolicyIntent.PeerMatch peerMatch;
      if (ingress) {
        destinations = local.stream().filter(p -> selects(policy, p)).toList();
        peerMatch = peerMatch(peer, peerTag);
      } else if (peer.isPresent() && peer.get() instanceof NetworkPolicy.PodPeer pp) {
        destinations = pods.stream().filter(selector(pp)).toList();
        peerMatch = new PolicyIntent.AnyPeer();
      } else {
        destinations = pods;
        peerMatch = peerMatch(peer, peerTag);
      }
      TreeSet<String> members = new TreeSet<>();
      for (PolicyPod d : destinations) {
        d.resolve(portName, port.protocol())
            .ifPresent(
                n ->
                    d.ips()
                        .forEach(
                            ip -> members.add(ip + "," + port.protocol().toLowerCase() + ":" + n)));
      }
      sets.put(
          setName,
          new AddressSet(
              setName,
              AddressSet.Kind.ADDRESS_PORTS,
              members,
              policy.qualifiedName() + " port " + portName + "/" + port.protocol()));
      return new Match(rule, peerMatch, new PolicyIntent.NamedPortSet(setName));
    }

    private PolicyIntent.PeerMatch peerMatch(Optional<NetworkPolicy.Peer> peer, String setName) {
      if (peer.isEmpty()) {
        return new PolicyIntent.AnyPeer();
      }
      return switch (peer.get()) {
        case NetworkPolicy.IpBlockPeer b ->
            new PolicyIntent.Block(b.cidr(), b.except(), setName + "b");
        case NetworkPolicy.PodPeer pp -> {
          TreeSet<String> members = new TreeSet<>();
          pods.stream().filter(selector(pp)).forEach(p -> members.addAll(p.ips()));
          sets.put(
              setName,
              new AddressSet(
                  setName,
                  AddressSet.Kind.ADDRESSES,
                  members,
                  policy.qualifiedName() + " " + describe(pp)));
          yield new PolicyIntent.PeerSet(setName);
        }
      };
    }

    private String describe(NetworkPolicy.PodPeer pp) {
      return "pods "
          + pp.podSelector()
          + " in namespaces "
          + pp.namespaceSelector().map(LabelSelector::toString).orElse(policy.namespace());
    }

    private Predicate<PolicyPod> selector(NetworkPolicy.PodPeer pp) {
      return pod -> peerSelects(policy, pp, pod, nsLabels);
    }

    private static PolicyIntent.PortMatch portMatch(Optional<NetworkPolicy.PolicyPort> port) {
      if (port.isEmpty()) {
        return new PolicyIntent.AnyPort();
      }
      NetworkPolicy.PolicyPort p = port.get();
      if (p.port().isEmpty()) {
        return new PolicyIntent.Protocol(p.protocol());
      }
      int from = p.port().get();
      return new PolicyIntent.PortRange(p.protocol(), from, p.endPort().orElse(from));
    }
  }
}
