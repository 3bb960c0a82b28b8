package dev.tweed.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tweed.Golden;
import dev.tweed.lab.LabResources;
import dev.tweed.model.IpFamily;
import dev.tweed.rules.NftablesRuleset;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

public class NftablesServiceRendererTest {
  static final ProxyNode NODE = new ProxyNode("test-node", "10.0.0.0/8", List.of("192.168.0.2"));

  static ServicePort port(String ns, String name) {
    return ServicePort.clusterIp(ns, name, "p80", "TCP", "172.30.0.41", 80, List.of());
  }

  @Test
  void chainNamesAreKubeProxys() {
    // Values from kube-proxy's nftables tests.
    ServicePort svc1 = port("ns1", "svc1");
    assertThat(NftablesServiceRenderer.serviceChain(svc1))
        .isEqualTo("service-ULMVA6XW-ns1/svc1/tcp/p80");
    assertThat(
            NftablesServiceRenderer.endpointChain(
                svc1, new ServicePort.Endpoint("10.180.0.1", 80, Optional.empty())))
        .isEqualTo("endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80");
    assertThat(NftablesServiceRenderer.serviceChain(port("ns5", "svc5")))
        .isEqualTo("service-HVFWP5L3-ns5/svc5/tcp/p80");
  }

  @Test
  void overallRulesetMatchesGolden() throws Exception {
    String got =
        new NftablesServiceRenderer(NODE, "172.30.0.0/16")
            .render(IptablesServiceRendererTest.overall())
            .render();
    Golden.assertMatches("proxy/overall-nftables.nft", got);
  }

  /** An IPv6 node's table of IPv6 Services: kube-proxy's ip6 table, the same chains and maps. */
  public static NftablesRuleset ipv6Ruleset() throws Exception {
    List<ServicePort> ports =
        ServicePortResolver.resolveResources(
            LabResources.read(Path.of("src/test/resources/proxy/services-ipv6.yaml")),
            IpFamily.IPV6);
    return new NftablesServiceRenderer(
            new ProxyNode("node-1", "fd00:10:244::/56", List.of("fd00:31::11")), "fd00:10:96::/112")
        .render(ports);
  }

  @Test
  void anIpv6ProxierWritesAnIp6TableOfKubeProxysShape() throws Exception {
    NftablesRuleset rules = ipv6Ruleset();
    assertThat(rules.family()).isEqualTo(IpFamily.IPV6);
    String got = rules.render();
    assertThat(got)
        .startsWith("add table ip6 tweed-proxy { comment \"rules for kube-proxy\" ; }")
        .contains(
            "add map ip6 tweed-proxy service-ips { type ipv6_addr . inet_proto . inet_service :"
                + " verdict ;")
        .contains(
            "add rule ip6 tweed-proxy services ip6 daddr . meta l4proto . th dport vmap"
                + " @service-ips")
        .contains("add element ip6 tweed-proxy nodeport-ips { fd00:31::11 }")
        .contains("ip6 daddr { fd00:10:96::/112 } drop")
        .contains("meta l4proto tcp dnat to [fd00:10:244::5]:8080")
        .contains("update @affinity-")
        .contains("{ ip6 saddr }")
        .contains("ip6 saddr != { 2001:db8:113::/48, fd00:31::/64, 2001:db8:2::10 } drop")
        .contains("add element ip6 tweed-proxy no-endpoint-services { fd00:10:96::23 . tcp . 80");
    // Every line is of the ip6 table and names no IPv4 address.
    assertThat(got.lines()).allMatch(l -> l.split(" ")[2].equals("ip6"));
    assertThat(got).doesNotContainPattern("(?<![\\w.])\\d+\\.\\d+\\.\\d+\\.\\d+(?![\\w.])");
    // nft takes no colon in a name: kube-proxy writes the address's colons as dots.
    assertThat(got)
        .contains("-default/sticky/tcp/http__fd00.10.244..5/8080")
        .doesNotContainPattern("add chain [^\\n]*:");
  }

  /** kube-proxy's IPv6 NodePort test case, resolved for the IPv6 proxier. */
  static List<ServicePort> kubeProxyIpv6NodePort() throws Exception {
    return ServicePortResolver.resolveResources(
        LabResources.read(Path.of("src/test/resources/proxy/kube-proxy-ipv6-nodeport.yaml")),
        IpFamily.IPV6);
  }

  /**
   * kube-proxy's own IPv6 expectation (its nftables tests' IPv6 NodePort case): the same chain
   * names and hashes over the endpoint written with dots, the same rules for the endpoints, the
   * random choice between them and the maps' elements. (kube-proxy's newer base chains differ from
   * the layout Tweed follows; those lines are not compared.)
   */
  @Test
  void kubeProxysIpv6NodePortExpectations() throws Exception {
    List<ServicePort> ports = kubeProxyIpv6NodePort();
    String got =
        new NftablesServiceRenderer(
                new ProxyNode("test-node", "fd00:10::/64", List.of("2001:db8::1", "2001:db8:1::2")),
                "fd00:10:96::/112")
            .render(ports)
            .render()
            .replace(" tweed-proxy ", " kube-proxy ");
    String one = "endpoint-ZVRFLKHO-ns1/svc1/tcp/p80__fd00.10.180..1/80";
    String two = "endpoint-2CRNCTTE-ns1/svc1/tcp/p80__fd00.10.180..2.1/80";
    assertThat(got.lines())
        .contains(
            "add chain ip6 kube-proxy " + one,
            "add chain ip6 kube-proxy " + two,
            "add chain ip6 kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80",
            "add chain ip6 kube-proxy external-ULMVA6XW-ns1/svc1/tcp/p80",
            "add rule ip6 kube-proxy cluster-ips-check ip6 daddr @cluster-ips reject comment"
                + " \"Reject traffic to invalid ports of ClusterIPs\"",
            "add rule ip6 kube-proxy cluster-ips-check ip6 daddr { fd00:10:96::/112 } drop comment"
                + " \"Drop traffic to unallocated ClusterIPs\"",
            "add rule ip6 kube-proxy "
                + two
                + " ip6 saddr fd00:10:180::2:1 jump mark-for-masquerade",
            "add rule ip6 kube-proxy " + two + " meta l4proto tcp dnat to [fd00:10:180::2:1]:80",
            "add rule ip6 kube-proxy " + one + " ip6 saddr fd00:10:180::1 jump mark-for-masquerade",
            "add rule ip6 kube-proxy " + one + " meta l4proto tcp dnat to [fd00:10:180::1]:80",
            "add rule ip6 kube-proxy external-ULMVA6XW-ns1/svc1/tcp/p80 jump mark-for-masquerade",
            "add rule ip6 kube-proxy external-ULMVA6XW-ns1/svc1/tcp/p80 goto"
                + " service-ULMVA6XW-ns1/svc1/tcp/p80",
            "add rule ip6 kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80 numgen random mod 2 vmap { 0 :"
                + " goto "
                + one
                + " , 1 : goto "
                + two
                + " }",
            "add rule ip6 kube-proxy firewall-check ip6 daddr . meta l4proto . th dport vmap"
                + " @firewall-ips",
            "add rule ip6 kube-proxy services ip6 daddr . meta l4proto . th dport vmap @service-ips",
            "add rule ip6 kube-proxy services ip6 daddr @nodeport-ips meta l4proto . th dport vmap"
                + " @service-nodeports",
            "add element ip6 kube-proxy cluster-ips { fd00:172:30::41 }",
            "add element ip6 kube-proxy nodeport-ips { 2001:db8::1 }",
            "add element ip6 kube-proxy nodeport-ips { 2001:db8:1::2 }",
            "add element ip6 kube-proxy service-ips { fd00:172:30::41 . tcp . 80 : goto"
                + " service-ULMVA6XW-ns1/svc1/tcp/p80 }",
            "add element ip6 kube-proxy service-nodeports { tcp . 3001 : goto"
                + " external-ULMVA6XW-ns1/svc1/tcp/p80 }");
  }

  /**
   * A NodePort with both traffic policies Local still has its Cluster chain: its external chain
   * short-circuits pod and node traffic to it (kube-proxy's UsesClusterEndpoints). Without it the
   * rendered table refers to a chain it never declares, and the kernel refuses every sync.
   */
  @Test
  void aPortLocalBothWaysKeepsTheClusterChainItsShortCircuitsGoTo() {
    ServicePort p =
        new ServicePort(
            "ns1",
            "svc1",
            "",
            "TCP",
            "172.30.0.41",
            80,
            30080,
            List.of(),
            List.of(),
            List.of(),
            Optional.empty(),
            true,
            true,
            32000,
            List.of(new ServicePort.Endpoint("10.180.0.1", 80, Optional.of("test-node"))));
    String script = new NftablesServiceRenderer(NODE, "172.30.0.0/16").render(List.of(p)).render();
    Set<String> declared = new HashSet<>();
    for (String line : script.split("\n")) {
      if (line.startsWith("add chain ")) {
        declared.add(line.split(" ")[4]);
      }
    }
    List<String> targets =
        Arrays.stream(script.split("\n"))
            .filter(l -> l.contains(" goto ") && !l.contains("vmap"))
            .map(l -> l.substring(l.indexOf(" goto ") + 6).split(" ")[0])
            .toList();
    assertThat(targets).isNotEmpty();
    assertThat(declared).containsAll(targets);
  }
}
