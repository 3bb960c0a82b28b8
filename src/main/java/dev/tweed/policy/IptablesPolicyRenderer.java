package dev.tweed.policy;

import dev.tweed.model.IpFamily;
import dev.tweed.policy.IptablesPolicyRuleset.Ipset;
import dev.tweed.policy.PolicyIntent.AddressSet;
import dev.tweed.policy.PolicyIntent.CompiledPolicy;
import dev.tweed.policy.PolicyIntent.Endpoint;
import dev.tweed.policy.PolicyIntent.Match;
import dev.tweed.rules.JumpRule;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Policy intent as iptables rules, laid out as Calico's felix lays out its own: a dispatch chain
 * per direction jumping by interface to a per-endpoint chain ({@code tweed-tw-IFACE} for traffic to
 * the workload, {@code tweed-fw-IFACE} from it), which calls each policy's chain ({@code
 * tweed-pi-ID} / {@code tweed-po-ID}); a policy that allows a packet sets the accept bit of the
 * mark and the endpoint chain returns, otherwise the endpoint chain drops. Established connections
 * skip all of it, so replies are always allowed and policy changes do not cut live connections that
 * remain allowed. Anti-spoofing sits in the raw table, before conntrack.
 */
public final class IptablesPolicyRenderer {
  public static final String ACCEPT_MARK = "0x10000/0x10000";

  /**
   * The link's ICMPv6 control messages a pod sends from its link-local address (or ::): router and
   * neighbour solicitations, neighbour adverts, and multicast listener discovery (the kernel
   * reports its groups when an interface comes up); none of them leaves the pod's link.
   */
  public static final List<Integer> LINK_CONTROL_FROM_PODS =
      List.of(130, 131, 132, 133, 135, 136, 143);

  static final String PREROUTING = "tweed-PREROUTING";
  static final String FORWARD = "tweed-FORWARD";
  static final String FROM_DISPATCH = "tweed-from-wl-dispatch";
  static final String TO_DISPATCH = "tweed-to-wl-dispatch";

  public static final List<JumpRule> JUMPS =
      List.of(
          new JumpRule(
              "raw",
              "PREROUTING",
              List.of("-m", "comment", "--comment", "\"tweed anti-spoofing\"", "-j", PREROUTING)),
          new JumpRule(
              "filter",
              "FORWARD",
              List.of("-m", "comment", "--comment", "\"tweed network policy\"", "-j", FORWARD)));

  /** The IPv4 rules. */
  public IptablesPolicyRuleset render(PolicyIntent intent) {
    return render(intent, IpFamily.IPV4);
  }

  /**
   * The rules of one family, from its part of {@code intent} ({@link PolicyIntent#forFamily}). In
   * IPv6, neighbour discovery (ICMPv6 133-136) and multicast listener discovery pass anti-spoofing
   * (a pod solicits and reports from its link-local address, or from :: while it checks for
   * duplicates) except router advertisements, which a pod has no business sending; and it is
   * accepted before any policy, so that no policy can cut a pod off its gateway.
   */
  public IptablesPolicyRuleset render(PolicyIntent whole, IpFamily family) {
    PolicyIntent intent = whole.forFamily(family);
    boolean v6 = family == IpFamily.IPV6;
    Map<String, List<String>> raw = new LinkedHashMap<>();
    Map<String, List<String>> filter = new LinkedHashMap<>();
    List<String> antiSpoof = new ArrayList<>();
    List<String> from = new ArrayList<>();
    List<String> to = new ArrayList<>();
    Map<String, List<String>> endpointChains = new TreeMap<>();
    for (Endpoint e : intent.endpoints()) {
      String iface = e.hostInterface();
      if (v6) {
        antiSpoof.add(
            "-A "
                + PREROUTING
                + " -i "
                + iface
                + " -p ipv6-icmp -m icmp6 --icmpv6-type 134 -m comment --comment"
                + " \"no router advertisements from pods\" -j DROP");
        for (int type : LINK_CONTROL_FROM_PODS) {
          antiSpoof.add(
              "-A "
                  + PREROUTING
                  + " -i "
                  + iface
                  + " -p ipv6-icmp -m icmp6 --icmpv6-type "
                  + type
                  + " -j RETURN");
        }
      }
      String spoofed =
          "-A "
              + PREROUTING
              + " -i "
              + iface
              + " ! -s "
              + e.ip()
              + "/"
              + family.bits()
              + " -m comment --comment \"anti-spoofing: only "
              + e.pod()
              + " may send from "
              + iface
              + "\" ";
      antiSpoof.add(spoofed + DropLog.iptablesTarget("spoofed-source", "egress"));
      antiSpoof.add(spoofed + "-j DROP");
      if (e.egressPolicies().isPresent()) {
        String chain = "tweed-fw-" + iface;
        from.add("-A " + FROM_DISPATCH + " -i " + iface + " -g " + chain);
        endpointChains.put(
            chain, endpointChain(chain, e, e.egressPolicies().get(), "po", "egress"));
      }
      if (e.ingressPolicies().isPresent()) {
        String chain = "tweed-tw-" + iface;
        to.add("-A " + TO_DISPATCH + " -o " + iface + " -g " + chain);
        endpointChains.put(
            chain, endpointChain(chain, e, e.ingressPolicies().get(), "pi", "ingress"));
      }
    }
    raw.put(PREROUTING, antiSpoof);
    List<String> forward = new ArrayList<>();
    forward.add(
        "-A "
            + FORWARD
            + " -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment"
            + " \"replies and allowed connections\" -j RETURN");
    if (v6) {
      for (int type : List.of(133, 134, 135, 136)) {
        forward.add(
            "-A "
                + FORWARD
                + " -p ipv6-icmp -m icmp6 --icmpv6-type "
                + type
                + " -m comment --comment \"neighbour discovery\" -j RETURN");
      }
    }
    forward.add("-A " + FORWARD + " -j " + FROM_DISPATCH);
    forward.add("-A " + FORWARD + " -j " + TO_DISPATCH);
    filter.put(FORWARD, forward);
    filter.put(FROM_DISPATCH, from);
    filter.put(TO_DISPATCH, to);
    filter.putAll(endpointChains);
    Map<String, Ipset> ipsets = new TreeMap<>();
    for (AddressSet s : intent.sets()) {
      ipsets.put(
          s.name(),
          new Ipset(
              s.name(),
              s.kind() == AddressSet.Kind.ADDRESSES ? "hash:ip" : "hash:ip,port",
              s.members()));
    }
    Set<String> isolatingIn = intent.isolating(true);
    Set<String> isolatingOut = intent.isolating(false);
    for (CompiledPolicy p : intent.policies()) {
      if (isolatingIn.contains(p.qualifiedName())) {
        filter.put(
            "tweed-pi-" + p.id(), policyChain("tweed-pi-" + p.id(), p, p.ingress(), true, ipsets));
      }
      if (isolatingOut.contains(p.qualifiedName())) {
        filter.put(
            "tweed-po-" + p.id(), policyChain("tweed-po-" + p.id(), p, p.egress(), false, ipsets));
      }
    }
    return new IptablesPolicyRuleset(family, raw, filter, ipsets, JUMPS);
  }

  private static List<String> endpointChain(
      String chain, Endpoint e, List<String> policies, String kind, String direction) {
    List<String> rules = new ArrayList<>();
    rules.add("-A " + chain + " -m conntrack --ctstate INVALID -j DROP");
    rules.add("-A " + chain + " -j MARK --set-xmark 0x0/0x10000");
    for (String p : policies) {
      rules.add(
          "-A "
              + chain
              + " -m comment --comment \"policy "
              + p
              + "\" -j tweed-"
              + kind
              + "-"
              + PolicyCalculator.id(p));
      rules.add("-A " + chain + " -m mark --mark " + ACCEPT_MARK + " -j RETURN");
    }
    String denied =
        "-A "
            + chain
            + " -m comment --comment \"no "
            + direction
            + " policy of "
            + e.pod()
            + " allows this\" ";
    rules.add(denied + DropLog.iptablesTarget("policy-denied", direction));
    rules.add(denied + "-j DROP");
    return rules;
  }

  private static List<String> policyChain(
      String chain,
      CompiledPolicy p,
      List<Match> matches,
      boolean ingress,
      Map<String, Ipset> ipsets) {
    List<String> rules = new ArrayList<>();
    for (Match m : matches) {
      StringBuilder r = new StringBuilder("-A ").append(chain);
      switch (m.port()) {
        case PolicyIntent.Protocol pr -> r.append(" -p ").append(pr.protocol().toLowerCase());
        case PolicyIntent.PortRange pr -> r.append(" -p ").append(pr.protocol().toLowerCase());
        default -> {}
      }
      String dir = ingress ? "src" : "dst";
      switch (m.peer()) {
        case PolicyIntent.AnyPeer a -> {}
        case PolicyIntent.PeerSet s ->
            r.append(" -m set --match-set ").append(s.set()).append(' ').append(dir);
        case PolicyIntent.Block b -> {
          if (b.except().isEmpty() && !b.cidr().endsWith("/0")) {
            r.append(ingress ? " -s " : " -d ").append(b.cidr());
          } else if (!b.except().isEmpty() || !b.cidr().endsWith("/0")) {
            ipsets.put(b.set(), blockSet(b));
            r.append(" -m set --match-set ").append(b.set()).append(' ').append(dir);
          }
        }
      }
      switch (m.port()) {
        case PolicyIntent.PortRange pr -> {
          String proto = pr.protocol().toLowerCase();
          r.append(" -m ").append(proto).append(" --dport ").append(pr.from());
          if (pr.to() != pr.from()) {
            r.append(':').append(pr.to());
          }
        }
        case PolicyIntent.NamedPortSet n ->
            r.append(" -m set --match-set ").append(n.set()).append(" dst,dst");
        default -> {}
      }
      r.append(" -m comment --comment \"")
          .append(p.qualifiedName())
          .append(ingress ? " ingress" : " egress")
          .append(" rule ")
          .append(m.rule())
          .append("\" -j MARK --set-xmark ")
          .append(ACCEPT_MARK);
      rules.add(r.toString());
      rules.add("-A " + chain + " -m mark --mark " + ACCEPT_MARK + " -j RETURN");
    }
    return rules;
  }

  /**
   * An ipBlock with exceptions as a hash:net set: the exceptions are {@code nomatch} entries, which
   * win over the wider block because the set matches the most specific entry. hash:net cannot hold
   * a /0, so 0.0.0.0/0 is two /1s (and ::/0 too).
   */
  private static Ipset blockSet(PolicyIntent.Block b) {
    TreeSet<String> entries = new TreeSet<>();
    if (b.cidr().equals("0.0.0.0/0")) {
      entries.add("0.0.0.0/1");
      entries.add("128.0.0.0/1");
    } else if (b.cidr().equals("::/0")) {
      entries.add("::/1");
      entries.add("8000::/1");
    } else {
      entries.add(b.cidr());
    }
    b.except().forEach(x -> entries.add(x + " nomatch"));
    return new Ipset(b.set(), "hash:net", entries);
  }
}
