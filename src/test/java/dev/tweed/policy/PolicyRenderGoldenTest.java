package dev.tweed.policy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tweed.Golden;
import org.junit.jupiter.api.Test;

class PolicyRenderGoldenTest {
  @Test
  void iptablesRulesAndIpsets() throws Exception {
    Golden.assertMatches(
        "policy/iptables.txt",
        new IptablesPolicyRenderer().render(PolicyFixtures.intent()).render());
  }

  @Test
  void nftablesTable() throws Exception {
    Golden.assertMatches(
        "policy/nftables.nft",
        new NftablesPolicyRenderer().render(PolicyFixtures.intent()).render());
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
