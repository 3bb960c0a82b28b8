package dev.tweed.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.Golden;
import dev.tweed.lab.LabResources;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

public class IptablesServiceRendererTest {
  static final ProxyNode NODE = new ProxyNode("test-node", "10.0.0.0/8", List.of("192.168.0.2"));

  public static List<ServicePort> overall() throws Exception {
    List<JsonNode> services = new ArrayList<>();
    List<JsonNode> slices = new ArrayList<>();
    for (JsonNode o : LabResources.read(Path.of("src/test/resources/proxy/overall.yaml"))) {
      (o.path("kind").asText().equals("Service") ? services : slices).add(o);
    }
    return ServicePortResolver.resolve(services, slices);
  }

  static ServicePort port(String ns, String name, String portName, String proto) {
    return ServicePort.clusterIp(ns, name, portName, proto, "10.96.0.1", 80, List.of());
  }

  @Test
  void chainNamesAreKubeProxys() {
    // Values published in kube-proxy's own tests and documentation.
    assertThat(ChainNames.serviceCluster(port("default", "kubernetes", "https", "TCP")))
        .isEqualTo("KUBE-SVC-NPX46M4PTMTKRN6Y");
    assertThat(ChainNames.serviceCluster(port("kube-system", "kube-dns", "dns", "UDP")))
        .isEqualTo("KUBE-SVC-TCOU7JCQXEZGVUNU");
    ServicePort svc1 = port("ns1", "svc1", "p80", "TCP");
    assertThat(ChainNames.serviceCluster(svc1)).isEqualTo("KUBE-SVC-XPGD46QRK7WJZT7O");
    assertThat(
            ChainNames.endpoint(svc1, new ServicePort.Endpoint("10.180.0.1", 80, Optional.empty())))
        .isEqualTo("KUBE-SEP-SXIVWICOYRO3J4NJ");
    assertThat(ChainNames.firewall(port("ns5", "svc5", "p80", "TCP")))
        .isEqualTo("KUBE-FW-NUKIZ6OKUXPJNT4C");
  }

  @Test
  void probabilitiesAreFormattedAsKubeProxyFormatsThem() {
    assertThat(IptablesServiceRenderer.probability(2)).isEqualTo("0.5000000000");
    assertThat(IptablesServiceRenderer.probability(3)).isEqualTo("0.3333333333");
  }

  @Test
  void overallRulesetMatchesGolden() throws Exception {
    String got = new IptablesServiceRenderer(NODE).render(overall()).render();
    Golden.assertMatches("proxy/overall-iptables.txt", got);
  }

  /**
   * An IPv6 proxier writes ip6tables with kube-proxy's IPv6 shapes: the same chain names (hashed
   * from the same Service port and endpoint strings, the endpoint bracketed), bracketed DNAT
   * targets, no localhost guard in KUBE-FIREWALL, and ::1 kept out of NodePorts.
   */
  @Test
  void anIpv6ProxierWritesKubeProxysIpv6Shapes() throws Exception {
    List<ServicePort> ports = NftablesServiceRendererTest.kubeProxyIpv6NodePort();
    String got =
        new IptablesServiceRenderer(
                new ProxyNode("test-node", "fd00:10::/64", List.of("fd00:192:168::2")))
            .render(ports)
            .render();
    assertThat(got)
        .contains(
            "-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports; NOTE: this must"
                + " be the last rule in this chain\" -m addrtype --dst-type LOCAL ! -d ::1/128 -j"
                + " KUBE-NODEPORTS")
        .contains("-d fd00:172:30::41 --dport 80")
        .contains("-j DNAT --to-destination [fd00:10:180::1]:80")
        .contains("! -s fd00:10::/64 -j KUBE-MARK-MASQ")
        .doesNotContain("127.0.0.0/8");
    ServicePort svc1 = ports.getFirst();
    String sep =
        ChainNames.endpoint(svc1, new ServicePort.Endpoint("fd00:10:180::1", 80, Optional.empty()));
    assertThat(got)
        .contains("-A " + ChainNames.serviceCluster(svc1) + " ")
        .contains("-A " + ChainNames.external(svc1) + " ")
        .contains("-A " + sep + " ");
  }

  @Test
  void resolverTakesReadyEndpointsMatchedByPortNameAndProtocol() throws Exception {
    List<ServicePort> ports = overall();
    assertThat(ports).hasSize(6);
    ServicePort svc4 =
        ports.stream().filter(p -> p.name().equals("svc4")).findFirst().orElseThrow();
    assertThat(svc4.endpoints())
        .extracting(ServicePort.Endpoint::toString)
        .containsExactly("10.180.0.4:80", "10.180.0.5:80");
    ServicePort svc5 =
        ports.stream().filter(p -> p.name().equals("svc5")).findFirst().orElseThrow();
    assertThat(svc5.loadBalancerSourceRanges()).containsExactly("203.0.113.0/25");
    assertThat(svc5.affinityTimeoutSeconds()).contains(10800);
    assertThat(svc5.healthCheckNodePort()).isZero();
    assertThat(
            ports.stream()
                .filter(p -> p.name().equals("svc6"))
                .findFirst()
                .orElseThrow()
                .endpoints())
        .isEmpty();
  }
}
