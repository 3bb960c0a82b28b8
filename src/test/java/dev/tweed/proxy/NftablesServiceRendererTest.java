package dev.tweed.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tweed.Golden;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

class NftablesServiceRendererTest {
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
