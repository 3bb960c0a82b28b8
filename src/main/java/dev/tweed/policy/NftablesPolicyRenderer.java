package dev.tweed.policy;

import dev.tweed.model.IpFamily;
import dev.tweed.policy.PolicyIntent.AddressSet;
import dev.tweed.policy.PolicyIntent.CompiledPolicy;
import dev.tweed.policy.PolicyIntent.Endpoint;
import dev.tweed.policy.PolicyIntent.Match;
import dev.tweed.rules.NftablesRuleset;
import dev.tweed.rules.nft.NftCommand;
import dev.tweed.rules.nft.NftCommand.AddChain;
import dev.tweed.rules.nft.NftCommand.AddRule;
import dev.tweed.rules.nft.NftCommand.AddSet;
import dev.tweed.rules.nft.NftCommand.AddTable;
import dev.tweed.rules.nft.NftCommand.Elements;
import dev.tweed.rules.nft.NftCommand.Hook;
import dev.tweed.rules.nft.NftElement;
import dev.tweed.rules.nft.NftStatement;
import dev.tweed.rules.nft.NftStatement.Address;
import dev.tweed.rules.nft.NftStatement.AddressIn;
import dev.tweed.rules.nft.NftStatement.AddressIs;
import dev.tweed.rules.nft.NftStatement.Counter;
import dev.tweed.rules.nft.NftStatement.CtState;
import dev.tweed.rules.nft.NftStatement.DestinationPort;
import dev.tweed.rules.nft.NftStatement.DestinationServiceIn;
import dev.tweed.rules.nft.NftStatement.Icmpv6Type;
import dev.tweed.rules.nft.NftStatement.InSet;
import dev.tweed.rules.nft.NftStatement.InterfaceIn;
import dev.tweed.rules.nft.NftStatement.InterfaceSourceIn;
import dev.tweed.rules.nft.NftStatement.L4Protocol;
import dev.tweed.rules.nft.NftStatement.MarkIs;
import dev.tweed.rules.nft.NftStatement.MarkOperation;
import dev.tweed.rules.nft.NftStatement.MarkSyntax;
import dev.tweed.rules.nft.NftStatement.SetMark;
import dev.tweed.rules.nft.NftStatement.Verdict;
import dev.tweed.rules.nft.NftStatement.Vmap;
import dev.tweed.rules.nft.NftVerdict;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Policy intent as one nftables table per family ({@code ip tweed-policy}, {@code ip6
 * tweed-policy}) with the same shape as the iptables layout: verdict maps keyed on the interface
 * lead to per-endpoint chains ({@code endpoint-ingress-IFACE}, {@code endpoint-egress-IFACE}),
 * which call per-policy chains ({@code policy-ingress-NS/NAME}, {@code policy-egress-NS/NAME})
 * matching named sets. Anti-spoofing is one lookup of (interface, source address) in a set at raw
 * priority. In IPv6, neighbour discovery and multicast listener discovery pass anti-spoofing (a pod
 * solicits and reports from its link-local address, or from :: while it checks for duplicates)
 * except router advertisements, which a pod has no business sending, and neighbour discovery is
 * accepted before any policy, so that no policy can cut a pod off its gateway: as the ip6tables
 * layout does.
 *
 * <p>The forward chain runs at {@code filter - 5}, just before the service proxy's filter chains
 * (priority 0, kube-proxy's layout), as the policy rules come first in iptables mode. Two base
 * chains with the same priority would run in the order their hooks were registered, which changes
 * whenever a table is rewritten and which no listing shows.
 */
public final class NftablesPolicyRenderer {
  public static final String TABLE = "tweed-policy";
  private static final String T = TABLE;
  private static final String ACCEPT_BIT = "0x00010000";

  private static AddRule rule(String chain, NftStatement... statements) {
    return AddRule.of(T, chain, statements);
  }

  private static final Verdict DROP = new Verdict(NftVerdict.DROP);
  private static final Verdict ACCEPT = new Verdict(NftVerdict.ACCEPT);

  /** The IPv4 table. */
  public NftablesRuleset render(PolicyIntent intent) {
    return render(intent, IpFamily.IPV4);
  }

  /** {@code family}'s table, from its part of {@code whole} ({@link PolicyIntent#forFamily}). */
  public NftablesRuleset render(PolicyIntent whole, IpFamily family) {
    PolicyIntent intent = whole.forFamily(family);
    boolean v6 = family == IpFamily.IPV6;
    String address = AddSet.addressType(family);
    List<NftCommand> base = new ArrayList<>();
    base.add(new AddTable(T, Optional.empty()));
    base.add(
        AddChain.base(
            T, "prerouting", new Hook("filter", "prerouting", "raw", Optional.of("accept"))));
    base.add(
        AddChain.base(
            T, "forward", new Hook("filter", "forward", "filter - 5", Optional.of("accept"))));
    base.add(AddSet.of(T, "endpoint-interfaces", List.of("ifname"), null));
    base.add(AddSet.of(T, "endpoint-addresses", List.of("ifname", address), null));
    base.add(AddSet.verdictMap(T, "from-endpoints", List.of("ifname"), null));
    base.add(AddSet.verdictMap(T, "to-endpoints", List.of("ifname"), null));
    InterfaceIn fromEndpoint = new InterfaceIn(true, new InSet("endpoint-interfaces", false));
    if (v6) {
      base.add(
          rule("prerouting", fromEndpoint, Icmpv6Type.of(134), DROP)
              .commented("no router advertisements from pods"));
      for (int type : IptablesPolicyRenderer.LINK_CONTROL_FROM_PODS) {
        base.add(rule("prerouting", fromEndpoint, Icmpv6Type.of(type), ACCEPT));
      }
    }
    base.add(
        rule(
                "prerouting",
                fromEndpoint,
                new InterfaceSourceIn(new InSet("endpoint-addresses", true)),
                new Counter(),
                DropLog.nftablesStatement("spoofed-source", "egress"),
                DROP)
            .commented("anti-spoofing: a pod sends from its own address only"));
    base.add(
        rule(
                "forward",
                new CtState(List.of("established", "related")),
                new Verdict(NftVerdict.ACCEPT))
            .commented("replies and allowed connections"));
    if (v6) {
      for (int type : List.of(133, 134, 135, 136)) {
        base.add(rule("forward", Icmpv6Type.of(type), ACCEPT).commented("neighbour discovery"));
      }
    }
    base.add(rule("forward", new InterfaceIn(true, new Vmap("from-endpoints"))));
    base.add(rule("forward", new InterfaceIn(false, new Vmap("to-endpoints"))));

    Map<String, List<NftCommand>> blocks = new LinkedHashMap<>();
    for (Endpoint e : intent.endpoints()) {
      List<NftCommand> b = new ArrayList<>();
      String iface = e.hostInterface();
      NftElement.Interface name = new NftElement.Interface(iface);
      b.add(Elements.add(T, "endpoint-interfaces", NftElement.of(name)));
      b.add(
          Elements.add(
              T, "endpoint-addresses", NftElement.of(name, new NftElement.Address(e.ip()))));
      if (e.egressPolicies().isPresent()) {
        endpointChain(b, "endpoint-egress-" + iface, e, e.egressPolicies().get(), "egress");
        b.add(
            Elements.add(
                T,
                "from-endpoints",
                NftElement.mapping(NftVerdict.jump("endpoint-egress-" + iface), name)));
      }
      if (e.ingressPolicies().isPresent()) {
        endpointChain(b, "endpoint-ingress-" + iface, e, e.ingressPolicies().get(), "ingress");
        b.add(
            Elements.add(
                T,
                "to-endpoints",
                NftElement.mapping(NftVerdict.jump("endpoint-ingress-" + iface), name)));
      }
      blocks.put("endpoint " + e.pod(), b);
    }
    Map<String, AddressSet> sets = new LinkedHashMap<>();
    intent.sets().forEach(s -> sets.put(s.name(), s));
    Set<String> isolatingIn = intent.isolating(true);
    Set<String> isolatingOut = intent.isolating(false);
    for (CompiledPolicy p : intent.policies()) {
      List<NftCommand> b = new ArrayList<>();
      List<String> used = new ArrayList<>();
      if (isolatingIn.contains(p.qualifiedName())) {
        policyChain(b, "policy-ingress-" + p.qualifiedName(), p, p.ingress(), true, used);
      }
      if (isolatingOut.contains(p.qualifiedName())) {
        policyChain(b, "policy-egress-" + p.qualifiedName(), p, p.egress(), false, used);
      }
      for (String name : used) {
        AddressSet s = sets.get(name);
        boolean addresses = s.kind() == AddressSet.Kind.ADDRESSES;
        b.add(
            AddSet.of(
                T,
                name,
                addresses ? List.of(address) : List.of(address, "inet_proto", "inet_service"),
                s.comment().replace("\"", "'")));
        if (!s.members().isEmpty()) {
          List<NftElement> members = new ArrayList<>();
          for (String m : s.members()) {
            members.add(addresses ? NftElement.of(new NftElement.Address(m)) : namedPort(m));
          }
          b.add(new Elements(false, T, name, members));
        }
      }
      blocks.put("policy " + p.qualifiedName(), b);
    }
    return new NftablesRuleset(family, TABLE, base, blocks);
  }

  /** A named port's member, {@code IP,PROTOCOL:PORT}, as a key of address, protocol and port. */
  private static NftElement namedPort(String member) {
    String[] ip = member.split(",", 2);
    String[] port = ip[1].split(":", 2);
    return NftElement.of(
        new NftElement.Address(ip[0]),
        new NftElement.Protocol(port[0]),
        new NftElement.Port(Integer.parseInt(port[1])));
  }

  private static void endpointChain(
      List<NftCommand> b, String chain, Endpoint e, List<String> policies, String direction) {
    b.add(AddChain.regular(T, chain));
    b.add(rule(chain, new CtState(List.of("invalid")), DROP));
    b.add(rule(chain, new SetMark(MarkSyntax.META, MarkOperation.AND, "0xfffeffff")));
    for (String p : policies) {
      b.add(rule(chain, new Verdict(NftVerdict.jump("policy-" + direction + "-" + p))));
      b.add(
          rule(
              chain,
              new MarkIs(MarkSyntax.META, ACCEPT_BIT, ACCEPT_BIT),
              new Verdict(NftVerdict.RETURN)));
    }
    b.add(
        rule(chain, new Counter(), DropLog.nftablesStatement("policy-denied", direction), DROP)
            .commented("no " + direction + " policy of " + e.pod() + " allows this"));
  }

  private static void policyChain(
      List<NftCommand> b,
      String chain,
      CompiledPolicy p,
      List<Match> matches,
      boolean ingress,
      List<String> usedSets) {
    b.add(AddChain.regular(T, chain));
    Address addr = ingress ? Address.SADDR : Address.DADDR;
    for (Match m : matches) {
      List<NftStatement> r = new ArrayList<>();
      switch (m.peer()) {
        case PolicyIntent.AnyPeer a -> {}
        case PolicyIntent.PeerSet s -> {
          r.add(new AddressIn(addr, new InSet(s.set(), false)));
          use(usedSets, s.set());
        }
        case PolicyIntent.Block bl -> {
          if (!bl.cidr().endsWith("/0")) {
            r.add(AddressIs.of(addr, bl.cidr()));
          }
          if (!bl.except().isEmpty()) {
            r.add(new AddressIs(addr, true, bl.except(), true));
          }
        }
      }
      switch (m.port()) {
        case PolicyIntent.AnyPort a -> {}
        case PolicyIntent.Protocol pr -> r.add(new L4Protocol(pr.protocol().toLowerCase()));
        case PolicyIntent.PortRange pr ->
            r.add(new DestinationPort(pr.protocol().toLowerCase(), pr.from(), pr.to()));
        case PolicyIntent.NamedPortSet n -> {
          r.add(new DestinationServiceIn(new InSet(n.set(), false)));
          use(usedSets, n.set());
        }
      }
      r.add(new SetMark(MarkSyntax.META, MarkOperation.OR, ACCEPT_BIT));
      r.add(new Verdict(NftVerdict.RETURN));
      b.add(
          new AddRule(
              T,
              chain,
              r,
              Optional.of(
                  p.qualifiedName() + (ingress ? " ingress" : " egress") + " rule " + m.rule())));
    }
  }

  private static void use(List<String> used, String set) {
    if (!used.contains(set)) {
      used.add(set);
    }
  }
}
