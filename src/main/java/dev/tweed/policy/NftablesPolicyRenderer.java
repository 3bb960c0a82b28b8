package dev.tweed.policy;

import dev.tweed.policy.PolicyIntent.AddressSet;
import dev.tweed.policy.PolicyIntent.CompiledPolicy;
import dev.tweed.policy.PolicyIntent.Endpoint;
import dev.tweed.policy.PolicyIntent.Match;
import dev.tweed.rules.NftablesRuleset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Policy intent as one nftables table ({@code ip tweed-policy}) with the same shape as the iptables
 * layout: verdict maps keyed on the interface lead to per-endpoint chains ({@code
 * endpoint-ingress-IFACE}, {@code endpoint-egress-IFACE}), which call per-policy chains ({@code
 * policy-ingress-NS/NAME}, {@code policy-egress-NS/NAME}) matching named sets. Anti-spoofing is one
 * lookup of (interface, source address) in a set at raw priority.
 *
 * <p>The forward chain runs at {@code filter - 5}, just before the service proxy's filter chains
 * (priority 0, kube-proxy's layout), as the policy rules come first in iptables mode. Two base
 * chains with the same priority would run in the order their hooks were registered, which changes
 * whenever a table is rewritten and which no listing shows.
 */
public final class NftablesPolicyRenderer {
  public static final String TABLE = "tweed-policy";
  private static final String T = "ip " + TABLE;
  private static final String ACCEPT_BIT = "0x00010000";

  public NftablesRuleset render(PolicyIntent intent) {
    List<String> base = new ArrayList<>();
    base.add("add table " + T);
    base.add(
        "add chain "
            + T
            + " prerouting { type filter hook prerouting priority raw ; policy accept ; }");
    base.add(
        "add chain "
            + T
            + " forward { type filter hook forward priority filter - 5 ; policy accept ; }");
    base.add("add set " + T + " endpoint-interfaces { type ifname ; }");
    base.add("add set " + T + " endpoint-addresses { type ifname . ipv4_addr ; }");
    base.add("add map " + T + " from-endpoints { type ifname : verdict ; }");
    base.add("add map " + T + " to-endpoints { type ifname : verdict ; }");
    base.add(
        "add rule "
            + T
            + " prerouting iifname @endpoint-interfaces iifname . ip saddr != @endpoint-addresses"
            + " counter "
            + DropLog.nftablesStatement("spoofed-source", "egress")
            + " drop comment \"anti-spoofing: a pod sends from its own address only\"");
    base.add(
        "add rule "
            + T
            + " forward ct state established,related accept comment \"replies and allowed"
            + " connections\"");
    base.add("add rule " + T + " forward iifname vmap @from-endpoints");
    base.add("add rule " + T + " forward oifname vmap @to-endpoints");

    Map<String, List<String>> blocks = new LinkedHashMap<>();
    for (Endpoint e : intent.endpoints()) {
      List<String> b = new ArrayList<>();
      String iface = e.hostInterface();
      b.add("add element " + T + " endpoint-interfaces { \"" + iface + "\" }");
      b.add("add element " + T + " endpoint-addresses { \"" + iface + "\" . " + e.ip() + " }");
      if (e.egressPolicies().isPresent()) {
        endpointChain(b, "endpoint-egress-" + iface, e, e.egressPolicies().get(), "egress");
        b.add(
            "add element "
                + T
                + " from-endpoints { \""
                + iface
                + "\" : jump endpoint-egress-"
                + iface
                + " }");
      }
      if (e.ingressPolicies().isPresent()) {
        endpointChain(b, "endpoint-ingress-" + iface, e, e.ingressPolicies().get(), "ingress");
        b.add(
            "add element "
                + T
                + " to-endpoints { \""
                + iface
                + "\" : jump endpoint-ingress-"
                + iface
                + " }");
      }
      blocks.put("endpoint " + e.pod(), b);
    }
    Map<String, AddressSet> sets = new LinkedHashMap<>();
    intent.sets().forEach(s -> sets.put(s.name(), s));
    Set<String> isolatingIn = intent.isolating(true);
    Set<String> isolatingOut = intent.isolating(false);
    for (CompiledPolicy p : intent.policies()) {
      List<String> b = new ArrayList<>();
      List<String> used = new ArrayList<>();
      if (isolatingIn.contains(p.qualifiedName())) {
        policyChain(b, "policy-ingress-" + p.qualifiedName(), p, p.ingress(), true, used);
      }
      if (isolatingOut.contains(p.qualifiedName())) {
        policyChain(b, "policy-egress-" + p.qualifiedName(), p, p.egress(), false, used);
      }
      for (String name : used) {
        AddressSet s = sets.get(name);
        String type =
            s.kind() == AddressSet.Kind.ADDRESSES
                ? "ipv4_addr"
                : "ipv4_addr . inet_proto . inet_service";
        b.add(
            "add set "
                + T
                + " "
                + name
                + " { type "
                + type
                + " ; comment \""
                + s.comment().replace("\"", "'")
                + "\" ; }");
        if (!s.members().isEmpty()) {
          List<String> members = new ArrayList<>();
          for (String m : s.members()) {
            members.add(
                s.kind() == AddressSet.Kind.ADDRESSES
                    ? m
                    : m.replace(",", " . ").replace(":", " . "));
          }
          b.add("add element " + T + " " + name + " { " + String.join(", ", members) + " }");
        }
      }
      blocks.put("policy " + p.qualifiedName(), b);
    }
    return new NftablesRuleset(TABLE, base, blocks);
  }

  private static void endpointChain(
      List<String> b, String chain, Endpoint e, List<String> policies, String direction) {
    String r = "add rule " + T + " " + chain + " ";
    b.add("add chain " + T + " " + chain);
    b.add(r + "ct state invalid drop");
    b.add(r + "meta mark set meta mark & 0xfffeffff");
    for (String p : policies) {
      b.add(r + "jump policy-" + direction + "-" + p);
      b.add(r + "meta mark & " + ACCEPT_BIT + " == " + ACCEPT_BIT + " return");
    }
    b.add(
        r
            + "counter "
            + DropLog.nftablesStatement("policy-denied", direction)
            + " drop comment \"no "
            + direction
            + " policy of "
            + e.pod()
            + " allows this\"");
  }

  private static void policyChain(
      List<String> b,
      String chain,
      CompiledPolicy p,
      List<Match> matches,
      boolean ingress,
      List<String> usedSets) {
    b.add("add chain " + T + " " + chain);
    String addr = ingress ? "ip saddr " : "ip daddr ";
    for (Match m : matches) {
      StringBuilder r = new StringBuilder("add rule ").append(T).append(' ').append(chain);
      switch (m.peer()) {
        case PolicyIntent.AnyPeer a -> {}
        case PolicyIntent.PeerSet s -> {
          r.append(' ').append(addr).append('@').append(s.set());
          use(usedSets, s.set());
        }
        case PolicyIntent.Block bl -> {
          if (!bl.cidr().endsWith("/0")) {
            r.append(' ').append(addr).append(bl.cidr());
          }
          if (!bl.except().isEmpty()) {
            r.append(' ')
                .append(addr)
                .append("!= { ")
                .append(String.join(", ", bl.except()))
                .append(" }");
          }
        }
      }
      switch (m.port()) {
        case PolicyIntent.AnyPort a -> {}
        case PolicyIntent.Protocol pr ->
            r.append(" meta l4proto ").append(pr.protocol().toLowerCase());
        case PolicyIntent.PortRange pr -> {
          r.append(' ').append(pr.protocol().toLowerCase()).append(" dport ").append(pr.from());
          if (pr.to() != pr.from()) {
            r.append('-').append(pr.to());
          }
        }
        case PolicyIntent.NamedPortSet n -> {
          r.append(" ip daddr . meta l4proto . th dport @").append(n.set());
          use(usedSets, n.set());
        }
      }
      r.append(" meta mark set meta mark | ")
          .append(ACCEPT_BIT)
          .append(" return comment \"")
          .append(p.qualifiedName())
          .append(ingress ? " ingress" : " egress")
          .append(" rule ")
          .append(m.rule())
          .append('"');
      b.add(r.toString());
    }
  }

  private static void use(List<String> used, String set) {
    if (!used.contains(set)) {
      used.add(set);
    }
  }
}
