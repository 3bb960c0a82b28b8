package dev.tweed.policy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tweed.policy.PolicyIntent.AddressSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

class PolicyCalculatorTest {
  private static Map<String, AddressSet> sets(PolicyIntent i) {
    Map<String, AddressSet> m = new TreeMap<>();
    i.sets().forEach(s -> m.put(s.comment(), s));
    return m;
  }

  @Test
  void onlyLocalPodsBecomeEndpointsWithThePoliciesThatSelectThem() throws Exception {
    PolicyIntent i = PolicyFixtures.intent();
    assertThat(i.endpoints())
        .extracting(PolicyIntent.Endpoint::pod)
        .containsExactly("x/monitor", "x/web-1", "z/db");
    PolicyIntent.Endpoint web = i.endpoints().get(1);
    // web-egress has egress rules and no policyTypes: it isolates ingress too (allowing none).
    assertThat(web.ingressPolicies())
        .contains(List.of("x/deny-all", "x/web-egress", "x/web-ingress"));
    assertThat(web.egressPolicies()).contains(List.of("x/web-egress"));
    assertThat(i.endpoints().get(0).ingressPolicies()).contains(List.of("x/deny-all"));
    assertThat(i.endpoints().get(0).egressPolicies()).isEmpty();
    assertThat(i.endpoints().get(2).ingressPolicies()).isEmpty();
    assertThat(i.policies())
        .extracting(PolicyIntent.CompiledPolicy::qualifiedName)
        .containsExactly("x/deny-all", "x/web-egress", "x/web-ingress");
  }

  @Test
  void peersAndNamedPortsResolveToAddresses() throws Exception {
    Map<String, AddressSet> s = sets(PolicyFixtures.intent());
    // namespaceSelector AND podSelector: the client in team=blue, nobody in x.
    assertThat(s.get("x/web-ingress pods role=client in namespaces team=blue").members())
        .containsExactly("10.244.0.67");
    // No namespaceSelector: the policy's own namespace.
    assertThat(s.get("x/web-ingress pods role=monitor in namespaces x").members())
        .containsExactly("10.244.0.3");
    // Ingress named port: resolved on the selected (local) pods only.
    assertThat(s.get("x/web-ingress port http/TCP").members())
        .containsExactly("10.244.0.2,tcp:8080");
    // Egress named port: resolved on each peer pod, in every namespace; pods without an address
    // are left out.
    assertThat(s.values())
        .filteredOn(a -> a.comment().equals("x/web-egress port sql/TCP"))
        .singleElement()
        .satisfies(
            a ->
                assertThat(a.members())
                    .containsExactly("10.244.0.4,tcp:3306", "10.244.0.68,tcp:5432"));
  }

  @Test
  void namespacesAreLabelledWithTheirName() throws Exception {
    NetworkPolicy p =
        NetworkPolicyParserTest.parse(
            """
            metadata: {namespace: x, name: from-z}
            spec:
              podSelector: {}
              ingress:
              - from:
                - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: z}}
            """);
    PolicyIntent i =
        new PolicyCalculator("node-1")
            .calculate(PolicyFixtures.PODS, PolicyFixtures.NAMESPACES, List.of(p));
    assertThat(i.sets())
        .singleElement()
        .satisfies(a -> assertThat(a.members()).containsExactly("10.244.0.4"));
  }

  @Test
  void aPodWithoutHostInterfaceIsNotAnEndpoint() {
    PolicyPod p =
        new PolicyPod(
            "x",
            "p",
            Map.of(),
            Optional.of("10.0.0.1"),
            Optional.of("node-1"),
            List.of(),
            Optional.empty());
    assertThat(
            new PolicyCalculator("node-1").calculate(List.of(p), Map.of(), List.of()).endpoints())
        .isEmpty();
  }
}
