package dev.tweed.proxy;

import dev.tweed.model.Cidr;
import dev.tweed.model.Ipv4;
import dev.tweed.rules.BlockChange;
import dev.tweed.rules.NftablesRuleset;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
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

  private static final String T = "ip " + TABLE;
  private final RenderedPorts<List<String>> ports =
      new RenderedPorts<>(p -> List.copyOf(renderPort(T, p)));

  /** The table's skeleton: the same for every render of this node. */
  private final List<String> base;

  public NftablesServiceRenderer(ProxyNode node, String serviceCidr) {
    this.node = node;
    this.serviceCidr = serviceCidr;
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

  static String endpointBase(ServicePort p, ServicePort.Endpoint e) {
    return base(p) + "__" + e.ip() + "/" + e.port();
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
  public RulesetUpdate<NftablesRuleset, List<String>> update(
      Map<String, List<ServicePort>> changes) {
    List<BlockChange<List<String>>> changed = ports.apply(changes);
    return new RulesetUpdate<>(
        new NftablesRuleset(TABLE, base, ports.blocks(lines -> lines)), changed);
  }

  private List<String> base() {
    String t = T;
    List<String> base =
        new ArrayList<>(
            List.of(
                "add table " + t + " { comment \"rules for kube-proxy\" ; }",
                "add set "
                    + t
                    + " cluster-ips { type ipv4_addr ; comment \"Active ClusterIPs\" ; }",
                "add set "
                    + t
                    + " nodeport-ips { type ipv4_addr ; comment \"IPs that accept NodePort traffic\" ; }",
                "add map "
                    + t
                    + " firewall-ips { type ipv4_addr . inet_proto . inet_service : verdict ; comment \"destinations that are subject to LoadBalancerSourceRanges\" ; }",
                "add map "
                    + t
                    + " no-endpoint-nodeports { type inet_proto . inet_service : verdict ; comment \"vmap to drop or reject packets to service nodeports with no endpoints\" ; }",
                "add map "
                    + t
                    + " no-endpoint-services { type ipv4_addr . inet_proto . inet_service : verdict ; comment \"vmap to drop or reject packets to services with no endpoints\" ; }",
                "add map "
                    + t
                    + " service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; comment \"ClusterIP, ExternalIP and LoadBalancer IP traffic\" ; }",
                "add map "
                    + t
                    + " service-nodeports { type inet_proto . inet_service : verdict ; comment \"NodePort traffic\" ; }",
                "add chain " + t + " cluster-ips-check",
                "add chain "
                    + t
                    + " filter-prerouting-pre-dnat { type filter hook prerouting priority -110 ; }",
                "add chain "
                    + t
                    + " filter-output-pre-dnat { type filter hook output priority -110 ; }",
                "add chain " + t + " filter-forward { type filter hook forward priority 0 ; }",
                "add chain " + t + " filter-input { type filter hook input priority 0 ; }",
                "add chain " + t + " filter-output { type filter hook output priority 0 ; }",
                "add chain " + t + " firewall-check",
                "add chain " + t + " mark-for-masquerade",
                "add chain " + t + " masquerading",
                "add chain " + t + " nat-output { type nat hook output priority -100 ; }",
                "add chain " + t + " nat-postrouting { type nat hook postrouting priority 100 ; }",
                "add chain " + t + " nat-prerouting { type nat hook prerouting priority -100 ; }",
                "add chain " + t + " nodeport-endpoints-check",
                "add chain "
                    + t
                    + " reject-chain { comment \"helper for @no-endpoint-services / @no-endpoint-nodeports\" ; }",
                "add chain " + t + " services",
                "add chain " + t + " service-endpoints-check",
                "add rule "
                    + t
                    + " cluster-ips-check ip daddr @cluster-ips reject comment \"Reject traffic to invalid ports of ClusterIPs\"",
                "add rule "
                    + t
                    + " cluster-ips-check ip daddr { "
                    + serviceCidr
                    + " } drop comment \"Drop traffic to unallocated ClusterIPs\"",
                "add rule " + t + " filter-prerouting-pre-dnat ct state new jump firewall-check",
                "add rule " + t + " filter-forward ct state new jump service-endpoints-check",
                "add rule " + t + " filter-forward ct state new jump cluster-ips-check",
                "add rule " + t + " filter-input ct state new jump nodeport-endpoints-check",
                "add rule " + t + " filter-input ct state new jump service-endpoints-check",
                "add rule " + t + " filter-output ct state new jump service-endpoints-check",
                "add rule " + t + " filter-output-pre-dnat ct state new jump firewall-check",
                "add rule " + t + " filter-output ct state new jump cluster-ips-check",
                "add rule "
                    + t
                    + " firewall-check ip daddr . meta l4proto . th dport vmap @firewall-ips",
                "add rule " + t + " mark-for-masquerade mark set mark or 0x4000",
                "add rule " + t + " masquerading mark and 0x4000 == 0 return",
                "add rule " + t + " masquerading mark set mark xor 0x4000",
                "add rule " + t + " masquerading masquerade fully-random",
                "add rule " + t + " nat-output jump services",
                "add rule " + t + " nat-postrouting jump masquerading",
                "add rule " + t + " nat-prerouting jump services",
                "add rule "
                    + t
                    + " nodeport-endpoints-check ip daddr @nodeport-ips meta l4proto . th dport vmap @no-endpoint-nodeports",
                "add rule " + t + " reject-chain reject",
                "add rule " + t + " services ip daddr . meta l4proto . th dport vmap @service-ips",
                "add rule "
                    + t
                    + " services ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports"));
    for (String ip : node.nodeIps()) {
      base.add("add element " + t + " nodeport-ips { " + ip + " }");
    }
    base.add(
        "add rule "
            + t
            + " service-endpoints-check ip daddr . meta l4proto . th dport vmap @no-endpoint-services");

    return base;
  }

  private List<String> renderPort(String t, ServicePort p) {
    List<String> out = new ArrayList<>();
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
    String noEndpointVerdict = hasEndpoints ? "drop" : "goto reject-chain";
    String key = " . " + proto + " . " + p.port();

    if (p.affinityTimeoutSeconds().isPresent()) {
      for (ServicePort.Endpoint e : policy.reachable()) {
        out.add(
            "add set "
                + t
                + " "
                + affinitySet(p, e)
                + " { type ipv4_addr ; flags dynamic,timeout ; timeout "
                + p.affinityTimeoutSeconds().get()
                + "s ; }");
      }
    }
    if (!cluster.isEmpty()) {
      policyChain(out, t, p, svcChain, cluster, hasInternal && !p.internalPolicyLocal());
    }
    if (!localUsed.isEmpty()) {
      policyChain(out, t, p, locChain, localUsed, hasInternal && p.internalPolicyLocal());
    }
    if (usesExt) {
      out.add("add chain " + t + " " + extChain);
      if (!p.externalPolicyLocal()) {
        out.add("add rule " + t + " " + extChain + " jump mark-for-masquerade");
      } else {
        out.add(
            "add rule "
                + t
                + " "
                + extChain
                + " ip saddr "
                + node.clusterCidr()
                + " goto "
                + svcChain
                + " comment \"short-circuit pod traffic\"");
        out.add(
            "add rule "
                + t
                + " "
                + extChain
                + " fib saddr type local jump mark-for-masquerade comment \"masquerade local traffic\"");
        out.add(
            "add rule "
                + t
                + " "
                + extChain
                + " fib saddr type local goto "
                + svcChain
                + " comment \"short-circuit local traffic\"");
      }
      if (hasExternal) {
        out.add("add rule " + t + " " + extChain + " goto " + externalPolicyChain);
      }
    }
    for (ServicePort.Endpoint e : policy.reachable()) {
      String ep = endpointChain(p, e);
      out.add("add chain " + t + " " + ep);
      out.add("add rule " + t + " " + ep + " ip saddr " + e.ip() + " jump mark-for-masquerade");
      if (p.affinityTimeoutSeconds().isPresent()) {
        out.add("add rule " + t + " " + ep + " update @" + affinitySet(p, e) + " { ip saddr }");
      }
      out.add(
          "add rule "
              + t
              + " "
              + ep
              + " meta l4proto "
              + proto
              + " dnat to "
              + e.ip()
              + ":"
              + e.port());
    }
    if (usesFw) {
      out.add("add chain " + t + " " + fwChain);
      List<String> allowed = new ArrayList<>(p.loadBalancerSourceRanges());
      boolean fromNode = false;
      for (String r : p.loadBalancerSourceRanges()) {
        Cidr c = Cidr.parse(r);
        fromNode |= node.nodeIps().stream().anyMatch(ip -> c.contains(Ipv4.parse(ip)));
      }
      if (fromNode) {
        allowed.addAll(p.loadBalancerIps());
      }
      out.add(
          "add rule "
              + t
              + " "
              + fwChain
              + " ip saddr != { "
              + String.join(", ", allowed)
              + " } drop");
    }

    out.add("add element " + t + " cluster-ips { " + p.clusterIp() + " }");
    if (hasInternal) {
      out.add(
          "add element "
              + t
              + " service-ips { "
              + p.clusterIp()
              + key
              + " : goto "
              + internalChain
              + " }");
    } else {
      out.add(
          "add element "
              + t
              + " no-endpoint-services { "
              + p.clusterIp()
              + key
              + " comment \""
              + name
              + "\" : "
              + noEndpointVerdict
              + " }");
    }
    List<String> external = new ArrayList<>(p.externalIps());
    external.addAll(p.loadBalancerIps());
    for (String ip : external) {
      if (usesExt) {
        out.add("add element " + t + " service-ips { " + ip + key + " : goto " + extChain + " }");
      }
    }
    if (p.nodePort() != 0 && usesExt) {
      out.add(
          "add element "
              + t
              + " service-nodeports { "
              + proto
              + " . "
              + p.nodePort()
              + " : goto "
              + extChain
              + " }");
    }
    if (usesFw) {
      for (String ip : p.loadBalancerIps()) {
        out.add("add element " + t + " firewall-ips { " + ip + key + " : goto " + fwChain + " }");
      }
    }
    if (!hasExternal) {
      if (p.nodePort() != 0) {
        out.add(
            "add element "
                + t
                + " no-endpoint-nodeports { "
                + proto
                + " . "
                + p.nodePort()
                + " comment \""
                + name
                + "\" : "
                + noEndpointVerdict
                + " }");
      }
      for (String ip : external) {
        out.add(
            "add element "
                + t
                + " no-endpoint-services { "
                + ip
                + key
                + " comment \""
                + name
                + "\" : "
                + noEndpointVerdict
                + " }");
      }
    }
    return out;
  }

  private void policyChain(
      List<String> out,
      String t,
      ServicePort p,
      String chain,
      List<ServicePort.Endpoint> eps,
      boolean masqueradeOffCluster) {
    out.add("add chain " + t + " " + chain);
    if (masqueradeOffCluster) {
      out.add(
          "add rule "
              + t
              + " "
              + chain
              + " ip daddr "
              + p.clusterIp()
              + " ip saddr != "
              + node.clusterCidr()
              + " jump mark-for-masquerade");
    }
    if (p.affinityTimeoutSeconds().isPresent()) {
      for (ServicePort.Endpoint e : eps) {
        out.add(
            "add rule "
                + t
                + " "
                + chain
                + " ip saddr @"
                + affinitySet(p, e)
                + " goto "
                + endpointChain(p, e));
      }
    }
    String vmap =
        IntStream.range(0, eps.size())
            .mapToObj(i -> i + " : goto " + endpointChain(p, eps.get(i)))
            .collect(Collectors.joining(" , "));
    out.add(
        "add rule "
            + t
            + " "
            + chain
            + " numgen random mod "
            + eps.size()
            + " vmap { "
            + vmap
            + " }");
  }
}
