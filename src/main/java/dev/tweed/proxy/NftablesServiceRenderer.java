package dev.tweed.proxy;

import dev.tweed.model.Cidr;
import dev.tweed.model.IpAddress;
import dev.tweed.model.IpFamily;
import dev.tweed.rules.BlockChange;
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
import dev.tweed.rules.nft.NftStatement.AddSourceTo;
import dev.tweed.rules.nft.NftStatement.Address;
import dev.tweed.rules.nft.NftStatement.AddressIn;
import dev.tweed.rules.nft.NftStatement.AddressIs;
import dev.tweed.rules.nft.NftStatement.CtState;
import dev.tweed.rules.nft.NftStatement.DestinationServiceIn;
import dev.tweed.rules.nft.NftStatement.Dnat;
import dev.tweed.rules.nft.NftStatement.InSet;
import dev.tweed.rules.nft.NftStatement.L4Protocol;
import dev.tweed.rules.nft.NftStatement.MarkIs;
import dev.tweed.rules.nft.NftStatement.MarkOperation;
import dev.tweed.rules.nft.NftStatement.MarkSyntax;
import dev.tweed.rules.nft.NftStatement.MasqueradeFullyRandom;
import dev.tweed.rules.nft.NftStatement.RandomVerdict;
import dev.tweed.rules.nft.NftStatement.Reject;
import dev.tweed.rules.nft.NftStatement.ServicePortIn;
import dev.tweed.rules.nft.NftStatement.SetMark;
import dev.tweed.rules.nft.NftStatement.SourceIsLocal;
import dev.tweed.rules.nft.NftStatement.Verdict;
import dev.tweed.rules.nft.NftStatement.Vmap;
import dev.tweed.rules.nft.NftVerdict;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.commons.codec.binary.Base32;

/**
 * Renders service ports into one nftables table laid out as kube-proxy's nftables mode lays out its
 * own: verdict maps keyed on destination address, protocol and port ({@code service-ips}, {@code
 * service-nodeports}, {@code no-endpoint-services}, {@code firewall-ips}) lead to per-service and
 * per-endpoint chains, so the rules a packet traverses do not grow with the number of services.
 * Chain names follow kube-proxy's ({@code service-ULMVA6XW-ns1/svc1/tcp/p80}).
 */
public final class NftablesServiceRenderer {
  public static final String TABLE = "tweed-proxy";
  private static final int CHAIN_NAME_MAX = 64;
  private static final Base32 BASE32 = new Base32();
  private final ProxyNode node;
  private final String serviceCidr;

  /** The family of the service range: the table is {@code ip} or {@code ip6}, as kube-proxy's. */
  private final IpFamily family;

  private final RenderedPorts<List<NftCommand>> ports =
      new RenderedPorts<>(p -> List.copyOf(renderPort(p)));

  /** The table's skeleton: the same for every render of this node. */
  private final List<NftCommand> base;

  public NftablesServiceRenderer(ProxyNode node, String serviceCidr) {
    this.node = node;
    this.serviceCidr = serviceCidr;
    this.family = Cidr.parse(serviceCidr).family();
    this.base = List.copyOf(base());
  }

  /** kube-proxy's hashAndTruncate: 8 characters of base32 SHA-256, a dash, then the name. */
  static String hashed(String name) {
    try {
      byte[] sum =
          MessageDigest.getInstance("SHA-256").digest(name.getBytes(StandardCharsets.UTF_8));
      String out = BASE32.encodeAsString(sum).substring(0, 8) + "-" + name;
      return out.length() > CHAIN_NAME_MAX ? out.substring(0, CHAIN_NAME_MAX - 3) + "..." : out;
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  static String base(ServicePort p) {
    return p.namespace() + "/" + p.name() + "/" + p.protocolLower() + "/" + p.portName();
  }

  /**
   * kube-proxy's endpoint part of a chain name: an IPv6 address's colons, which nft does not take
   * in a name, become dots ({@code __fd00.10.244..5/8080}), as kube-proxy writes them.
   */
  static String endpointBase(ServicePort p, ServicePort.Endpoint e) {
    return base(p) + "__" + e.ip().replace(':', '.') + "/" + e.port();
  }

  public static String serviceChain(ServicePort p) {
    return "service-" + hashed(base(p));
  }

  static String localChain(ServicePort p) {
    return "local-" + hashed(base(p));
  }

  static String externalChain(ServicePort p) {
    return "external-" + hashed(base(p));
  }

  static String firewallChain(ServicePort p) {
    return "firewall-" + hashed(base(p));
  }

  static String endpointChain(ServicePort p, ServicePort.Endpoint e) {
    return "endpoint-" + hashed(endpointBase(p, e));
  }

  static String affinitySet(ServicePort p, ServicePort.Endpoint e) {
    return "affinity-" + hashed(endpointBase(p, e));
  }

  /** The rules of exactly these ports (a whole render: ports rendered before and absent go). */
  public NftablesRuleset render(List<ServicePort> all) {
    return update(ports.replacing(all)).ruleset();
  }

  /** The rules after these Services changed, and the service blocks that changed with them. */
  public RulesetUpdate<NftablesRuleset, List<NftCommand>> update(
      Map<String, List<ServicePort>> changes) {
    List<BlockChange<List<NftCommand>>> changed = ports.apply(changes);
    return new RulesetUpdate<>(
        new NftablesRuleset(family, TABLE, base, ports.blocks(lines -> lines)), changed);
  }

  private static final String T = TABLE;

  private static AddChain chain(String name) {
    return AddChain.regular(T, name);
  }

  private static AddChain hooked(String name, String type, String hook, int priority) {
    return AddChain.base(
        T, name, new Hook(type, hook, Integer.toString(priority), Optional.empty()));
  }

  private static AddRule rule(String chain, NftStatement... statements) {
    return AddRule.of(T, chain, statements);
  }

  private static Verdict jump(String chain) {
    return new Verdict(NftVerdict.jump(chain));
  }

  private static Verdict goTo(String chain) {
    return new Verdict(NftVerdict.goTo(chain));
  }

  private static final CtState NEW = new CtState(List.of("new"));
  private static final List<String> NODEPORT_KEY = List.of("inet_proto", "inet_service");

  private List<NftCommand> base() {
    String address = AddSet.addressType(family);
    List<String> serviceKey = List.of(address, "inet_proto", "inet_service");
    List<NftCommand> base =
        new ArrayList<>(
            List.of(
                new AddTable(T, Optional.of("rules for kube-proxy")),
                AddSet.of(T, "cluster-ips", List.of(address), "Active ClusterIPs"),
                AddSet.of(T, "nodeport-ips", List.of(address), "IPs that accept NodePort traffic"),
                AddSet.verdictMap(
                    T,
                    "firewall-ips",
                    serviceKey,
                    "destinations that are subject to LoadBalancerSourceRanges"),
                AddSet.verdictMap(
                    T,
                    "no-endpoint-nodeports",
                    NODEPORT_KEY,
                    "vmap to drop or reject packets to service nodeports with no endpoints"),
                AddSet.verdictMap(
                    T,
                    "no-endpoint-services",
                    serviceKey,
                    "vmap to drop or reject packets to services with no endpoints"),
                AddSet.verdictMap(
                    T,
                    "service-ips",
                    serviceKey,
                    "ClusterIP, ExternalIP and LoadBalancer IP traffic"),
                AddSet.verdictMap(T, "service-nodeports", NODEPORT_KEY, "NodePort traffic"),
                chain("cluster-ips-check"),
                hooked("filter-prerouting-pre-dnat", "filter", "prerouting", -110),
                hooked("filter-output-pre-dnat", "filter", "output", -110),
                hooked("filter-forward", "filter", "forward", 0),
                hooked("filter-input", "filter", "input", 0),
                hooked("filter-output", "filter", "output", 0),
                chain("firewall-check"),
                chain("mark-for-masquerade"),
                chain("masquerading"),
                hooked("nat-output", "nat", "output", -100),
                hooked("nat-postrouting", "nat", "postrouting", 100),
                hooked("nat-prerouting", "nat", "prerouting", -100),
                chain("nodeport-endpoints-check"),
                new AddChain(
                    T,
                    "reject-chain",
                    Optional.empty(),
                    Optional.of("helper for @no-endpoint-services / @no-endpoint-nodeports")),
                chain("services"),
                chain("service-endpoints-check"),
                rule(
                        "cluster-ips-check",
                        new AddressIn(Address.DADDR, new InSet("cluster-ips", false)),
                        new Reject())
                    .commented("Reject traffic to invalid ports of ClusterIPs"),
                rule(
                        "cluster-ips-check",
                        new AddressIs(Address.DADDR, false, List.of(serviceCidr), true),
                        new Verdict(NftVerdict.DROP))
                    .commented("Drop traffic to unallocated ClusterIPs"),
                rule("filter-prerouting-pre-dnat", NEW, jump("firewall-check")),
                rule("filter-forward", NEW, jump("service-endpoints-check")),
                rule("filter-forward", NEW, jump("cluster-ips-check")),
                rule("filter-input", NEW, jump("nodeport-endpoints-check")),
                rule("filter-input", NEW, jump("service-endpoints-check")),
                rule("filter-output", NEW, jump("service-endpoints-check")),
                rule("filter-output-pre-dnat", NEW, jump("firewall-check")),
                rule("filter-output", NEW, jump("cluster-ips-check")),
                rule("firewall-check", new DestinationServiceIn(new Vmap("firewall-ips"))),
                rule(
                    "mark-for-masquerade",
                    new SetMark(MarkSyntax.SHORT, MarkOperation.OR, MASQUERADE_BIT)),
                rule(
                    "masquerading",
                    new MarkIs(MarkSyntax.SHORT, MASQUERADE_BIT, "0"),
                    new Verdict(NftVerdict.RETURN)),
                rule(
                    "masquerading",
                    new SetMark(MarkSyntax.SHORT, MarkOperation.XOR, MASQUERADE_BIT)),
                rule("masquerading", new MasqueradeFullyRandom()),
                rule("nat-output", jump("services")),
                rule("nat-postrouting", jump("masquerading")),
                rule("nat-prerouting", jump("services")),
                rule(
                    "nodeport-endpoints-check",
                    new AddressIn(Address.DADDR, new InSet("nodeport-ips", false)),
                    new ServicePortIn(new Vmap("no-endpoint-nodeports"))),
                rule("reject-chain", new Reject()),
                rule("services", new DestinationServiceIn(new Vmap("service-ips"))),
                rule(
                    "services",
                    new AddressIn(Address.DADDR, new InSet("nodeport-ips", false)),
                    new ServicePortIn(new Vmap("service-nodeports")))));
    for (String ip : node.nodeIps()) {
      base.add(Elements.add(T, "nodeport-ips", NftElement.of(new NftElement.Address(ip))));
    }
    base.add(
        rule(
            "service-endpoints-check", new DestinationServiceIn(new Vmap("no-endpoint-services"))));
    return base;
  }

  private static final String MASQUERADE_BIT = "0x4000";

  /** A Service's address, protocol and port: the key of the service maps. */
  private static NftElement.Field[] serviceKey(String ip, ServicePort p) {
    return new NftElement.Field[] {
      new NftElement.Address(ip),
      new NftElement.Protocol(p.protocolLower()),
      new NftElement.Port(p.port())
    };
  }

  private static NftElement.Field[] nodePortKey(ServicePort p) {
    return new NftElement.Field[] {
      new NftElement.Protocol(p.protocolLower()), new NftElement.Port(p.nodePort())
    };
  }

  private List<NftCommand> renderPort(ServicePort p) {
    List<NftCommand> out = new ArrayList<>();
    String proto = p.protocolLower();
    String name = p.portNameString();
    PortPolicy policy = PortPolicy.of(p, node.nodeName());
    List<ServicePort.Endpoint> cluster = policy.cluster();
    List<ServicePort.Endpoint> localUsed = policy.local();
    boolean hasEndpoints = policy.hasEndpoints();
    boolean hasInternal = policy.hasInternal();
    boolean hasExternal = policy.hasExternal();
    boolean usesExt = policy.usesExternalChain();
    boolean usesFw = policy.usesFirewall();
    String svcChain = serviceChain(p);
    String locChain = localChain(p);
    String extChain = externalChain(p);
    String fwChain = firewallChain(p);
    String internalChain = p.internalPolicyLocal() ? locChain : svcChain;
    String externalPolicyChain = p.externalPolicyLocal() ? locChain : svcChain;
    NftVerdict noEndpointVerdict = hasEndpoints ? NftVerdict.DROP : NftVerdict.goTo("reject-chain");

    if (p.affinityTimeoutSeconds().isPresent()) {
      for (ServicePort.Endpoint e : policy.reachable()) {
        out.add(
            new AddSet(
                T,
                affinitySet(p, e),
                List.of(AddSet.addressType(family)),
                false,
                true,
                Optional.of((long) p.affinityTimeoutSeconds().get()),
                Optional.empty()));
      }
    }
    if (!cluster.isEmpty()) {
      policyChain(out, p, svcChain, cluster, hasInternal && !p.internalPolicyLocal());
    }
    if (!localUsed.isEmpty()) {
      policyChain(out, p, locChain, localUsed, hasInternal && p.internalPolicyLocal());
    }
    if (usesExt) {
      out.add(chain(extChain));
      if (!p.externalPolicyLocal()) {
        out.add(rule(extChain, jump("mark-for-masquerade")));
      } else {
        out.add(
            rule(extChain, AddressIs.of(Address.SADDR, node.clusterCidr()), goTo(svcChain))
                .commented("short-circuit pod traffic"));
        out.add(
            rule(extChain, new SourceIsLocal(), jump("mark-for-masquerade"))
                .commented("masquerade local traffic"));
        out.add(
            rule(extChain, new SourceIsLocal(), goTo(svcChain))
                .commented("short-circuit local traffic"));
      }
      if (hasExternal) {
        out.add(rule(extChain, goTo(externalPolicyChain)));
      }
    }
    for (ServicePort.Endpoint e : policy.reachable()) {
      String ep = endpointChain(p, e);
      out.add(chain(ep));
      out.add(rule(ep, AddressIs.of(Address.SADDR, e.ip()), jump("mark-for-masquerade")));
      if (p.affinityTimeoutSeconds().isPresent()) {
        out.add(rule(ep, new AddSourceTo(affinitySet(p, e))));
      }
      out.add(rule(ep, new L4Protocol(proto), new Dnat(e.ip(), e.port())));
    }
    if (usesFw) {
      out.add(chain(fwChain));
      List<String> allowed = new ArrayList<>(p.loadBalancerSourceRanges());
      boolean fromNode = false;
      for (String r : p.loadBalancerSourceRanges()) {
        Cidr c = Cidr.parse(r);
        fromNode |=
            node.nodeIps().stream()
                .map(IpAddress::parse)
                .anyMatch(ip -> ip.family() == c.family() && c.contains(ip));
      }
      if (fromNode) {
        allowed.addAll(p.loadBalancerIps());
      }
      out.add(
          rule(
              fwChain,
              new AddressIs(Address.SADDR, true, allowed, true),
              new Verdict(NftVerdict.DROP)));
    }

    out.add(Elements.add(T, "cluster-ips", NftElement.of(new NftElement.Address(p.clusterIp()))));
    if (hasInternal) {
      out.add(
          Elements.add(
              T,
              "service-ips",
              NftElement.mapping(NftVerdict.goTo(internalChain), serviceKey(p.clusterIp(), p))));
    } else {
      out.add(
          Elements.add(
              T,
              "no-endpoint-services",
              new NftElement(
                  List.of(serviceKey(p.clusterIp(), p)),
                  Optional.of(name),
                  Optional.of(noEndpointVerdict))));
    }
    List<String> external = new ArrayList<>(p.externalIps());
    external.addAll(p.loadBalancerIps());
    for (String ip : external) {
      if (usesExt) {
        out.add(
            Elements.add(
                T,
                "service-ips",
                NftElement.mapping(NftVerdict.goTo(extChain), serviceKey(ip, p))));
      }
    }
    if (p.nodePort() != 0 && usesExt) {
      out.add(
          Elements.add(
              T,
              "service-nodeports",
              NftElement.mapping(NftVerdict.goTo(extChain), nodePortKey(p))));
    }
    if (usesFw) {
      for (String ip : p.loadBalancerIps()) {
        out.add(
            Elements.add(
                T,
                "firewall-ips",
                NftElement.mapping(NftVerdict.goTo(fwChain), serviceKey(ip, p))));
      }
    }
    if (!hasExternal) {
      if (p.nodePort() != 0) {
        out.add(
            Elements.add(
                T,
                "no-endpoint-nodeports",
                new NftElement(
                    List.of(nodePortKey(p)), Optional.of(name), Optional.of(noEndpointVerdict))));
      }
      for (String ip : external) {
        out.add(
            Elements.add(
                T,
                "no-endpoint-services",
                new NftElement(
                    List.of(serviceKey(ip, p)),
                    Optional.of(name),
                    Optional.of(noEndpointVerdict))));
      }
    }
    return out;
  }

  private void policyChain(
      List<NftCommand> out,
      ServicePort p,
      String chain,
      List<ServicePort.Endpoint> eps,
      boolean masqueradeOffCluster) {
    out.add(chain(chain));
    if (masqueradeOffCluster) {
      out.add(
          rule(
              chain,
              AddressIs.of(Address.DADDR, p.clusterIp()),
              new AddressIs(Address.SADDR, true, List.of(node.clusterCidr()), false),
              jump("mark-for-masquerade")));
    }
    if (p.affinityTimeoutSeconds().isPresent()) {
      for (ServicePort.Endpoint e : eps) {
        out.add(
            rule(
                chain,
                new AddressIn(Address.SADDR, new InSet(affinitySet(p, e), false)),
                goTo(endpointChain(p, e))));
      }
    }
    out.add(
        rule(
            chain,
            new RandomVerdict(
                eps.stream().map(e -> NftVerdict.goTo(endpointChain(p, e))).toList())));
  }
}
