package dev.tweed.policy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tweed.Golden;
import dev.tweed.lab.LabResources;
import dev.tweed.model.IpFamily;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class PolicyRenderGoldenTest {
  @Test
  void iptablesRulesAndIpsets() throws Exception {
    Golden.assertMatches(
        "policy/iptables.txt",
        new IptablesPolicyRenderer().render(PolicyFixtures.intent()).render());
  }

  @Test
  void aDualStackNodeWritesTheSameIpv4RulesAndTheirIpv6Twin() throws Exception {
    List<NetworkPolicy> policies = new ArrayList<>(PolicyFixtures.policies());
    PolicyIntent dual =
        new PolicyCalculator("node-1")
            .calculate(PolicyFixtures.dualStackPods(), PolicyFixtures.NAMESPACES, policies);
    IptablesPolicyRenderer r = new IptablesPolicyRenderer();
    // Adding IPv6 addresses changes nothing in the IPv4 table.
    assertThat(r.render(dual, IpFamily.IPV4).render())
        .isEqualTo(r.render(PolicyFixtures.intent()).render());
    Golden.assertMatches("policy/ip6tables.txt", r.render(dual, IpFamily.IPV6).render());
  }

  @Test
  void ipBlocksApplyInTheirOwnFamilyOnly() throws Exception {
    NetworkPolicy p =
        NetworkPolicyParser.parse(
            LabResources.read(
                    """
                    apiVersion: networking.k8s.io/v1
                    kind: NetworkPolicy
                    metadata: {name: blocks, namespace: x}
                    spec:
                      podSelector: {matchLabels: {app: web}}
                      ingress:
                      - from: [{ipBlock: {cidr: 10.0.0.0/8}}]
                      - from: [{ipBlock: {cidr: "fd00:10::/32", except: ["fd00:10:244::/48"]}}]
                    """,
                    "test")
                .getFirst());
    PolicyIntent dual =
        new PolicyCalculator("node-1")
            .calculate(PolicyFixtures.dualStackPods(), PolicyFixtures.NAMESPACES, List.of(p));
    IptablesPolicyRenderer r = new IptablesPolicyRenderer();
    String v4 =
        String.join(
            "\n",
            r.render(dual, IpFamily.IPV4)
                .filter()
                .get("tweed-pi-" + PolicyCalculator.id("x/blocks")));
    String v6 =
        String.join(
            "\n",
            r.render(dual, IpFamily.IPV6)
                .filter()
                .get("tweed-pi-" + PolicyCalculator.id("x/blocks")));
    assertThat(v4).contains("-s 10.0.0.0/8").doesNotContain("fd00");
    assertThat(v6).contains("-m set --match-set tw6-").doesNotContain("10.0.0.0/8");
    var sets = r.render(dual, IpFamily.IPV6).ipsets();
    assertThat(sets.values())
        .anySatisfy(
            s ->
                assertThat(s.entries())
                    .containsExactly("fd00:10:244::/48 nomatch", "fd00:10::/32"));
    assertThat(r.render(dual, IpFamily.IPV6).ipsetRestoreInput()).contains("family inet6");
  }

  @Test
  void nftablesTable() throws Exception {
    Golden.assertMatches(
        "policy/nftables.nft",
        new NftablesPolicyRenderer().render(PolicyFixtures.intent()).render());
  }

  @Test
  void aDualStackNodeWritesTheSameIpTableAndItsIp6Twin() throws Exception {
    PolicyIntent dual = PolicyFixtures.dualStackIntent();
    NftablesPolicyRenderer r = new NftablesPolicyRenderer();
    assertThat(r.render(dual, IpFamily.IPV4).render())
        .isEqualTo(r.render(PolicyFixtures.intent()).render());
    String v6 = r.render(dual, IpFamily.IPV6).render();
    Golden.assertMatches("policy/nftables6.nft", v6);
    assertThat(v6.lines()).allMatch(l -> l.split(" ")[2].equals("ip6"));
    // Neighbour discovery before anti-spoofing and before any policy; no router adverts from pods.
    List<String> lines = v6.lines().toList();
    int spoof = indexOf(lines, "anti-spoofing");
    assertThat(indexOf(lines, "icmpv6 type nd-router-advert drop")).isLessThan(spoof);
    assertThat(indexOf(lines, "icmpv6 type nd-neighbor-solicit accept")).isLessThan(spoof);
    assertThat(indexOf(lines, "forward icmpv6 type nd-neighbor-advert accept"))
        .isLessThan(indexOf(lines, "vmap @from-endpoints"));
  }

  private static int indexOf(List<String> lines, String part) {
    for (int i = 0; i < lines.size(); i++) {
      if (lines.get(i).contains(part)) {
        return i;
      }
    }
    throw new AssertionError("no line with " + part);
  }

  @Test
  void aNodeWithoutSelectedPodsCarriesNoPolicyChains() throws Exception {
    PolicyIntent intent =
        new PolicyCalculator("node-3")
            .calculate(PolicyFixtures.PODS, PolicyFixtures.NAMESPACES, PolicyFixtures.policies());
    assertThat(intent.endpoints()).isEmpty();
    assertThat(intent.policies()).isEmpty();
    assertThat(new IptablesPolicyRenderer().render(intent).filter().keySet())
        .containsExactly("tweed-FORWARD", "tweed-from-wl-dispatch", "tweed-to-wl-dispatch");
  }
}
