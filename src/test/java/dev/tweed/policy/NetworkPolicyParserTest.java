package dev.tweed.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tweed.model.Json;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class NetworkPolicyParserTest {
  static NetworkPolicy parse(String yaml) throws Exception {
    return NetworkPolicyParser.parse(Json.yaml().readTree(yaml));
  }

  @Test
  void policyTypesDefaultToIngressOnly() throws Exception {
    NetworkPolicy p = parse("metadata: {name: p}\nspec: {podSelector: {}}");
    assertThat(p.ingress()).contains(List.of());
    assertThat(p.egress()).isEmpty();
    assertThat(p.namespace()).isEqualTo("default");
  }

  @Test
  void egressRulesAddEgressToTheDefault() throws Exception {
    NetworkPolicy p = parse("metadata: {name: p}\nspec: {podSelector: {}, egress: [{}]}");
    assertThat(p.ingress()).contains(List.of());
    assertThat(p.egress()).hasValueSatisfying(l -> assertThat(l).hasSize(1));
  }

  @Test
  void givenPolicyTypesWin() throws Exception {
    NetworkPolicy p =
        parse("metadata: {name: p}\nspec: {podSelector: {}, policyTypes: [Egress], ingress: [{}]}");
    assertThat(p.ingress()).isEmpty();
    assertThat(p.egress()).contains(List.of());
  }

  @Test
  void aPortWithoutProtocolIsTcp() throws Exception {
    NetworkPolicy p =
        parse("metadata: {name: p}\nspec: {podSelector: {}, ingress: [{ports: [{port: 80}]}]}");
    assertThat(p.ingress().get().get(0).ports())
        .containsExactly(
            new NetworkPolicy.PolicyPort(
                "TCP", Optional.of(80), Optional.empty(), Optional.empty()));
  }

  @Test
  void peersKeepTheDifferenceBetweenOneElementAndTwo() throws Exception {
    NetworkPolicy one =
        parse(
            "metadata: {name: p}\nspec: {podSelector: {}, ingress: [{from: [{namespaceSelector: {},"
                + " podSelector: {matchLabels: {a: b}}}]}]}");
    NetworkPolicy two =
        parse(
            "metadata: {name: p}\nspec: {podSelector: {}, ingress: [{from: [{namespaceSelector: {}},"
                + " {podSelector: {matchLabels: {a: b}}}]}]}");
    assertThat(one.ingress().get().get(0).peers()).hasSize(1);
    assertThat(two.ingress().get().get(0).peers()).hasSize(2);
    assertThat(
            ((NetworkPolicy.PodPeer) two.ingress().get().get(0).peers().get(1)).namespaceSelector())
        .isEmpty();
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "spec: {}|spec.podSelector|is required",
        "spec: {podSelector: {matchExpressions: [{key: a, operator: Is, values: [b]}]}}"
            + "|spec.podSelector.matchExpressions[0].operator|not a valid selector operator",
        "spec: {podSelector: {matchExpressions: [{key: a, operator: In}]}}"
            + "|spec.podSelector.matchExpressions[0].values|must be non-empty",
        "spec: {podSelector: {}, policyTypes: [Both]}|spec.policyTypes[0]|not Ingress or Egress",
        "spec: {podSelector: {}, ingress: [{ports: [{protocol: ICMP}]}]}"
            + "|spec.ingress[0].ports[0].protocol|must be TCP, UDP or SCTP",
        "spec: {podSelector: {}, ingress: [{ports: [{port: 70000}]}]}"
            + "|spec.ingress[0].ports[0].port|between 1 and 65535",
        "spec: {podSelector: {}, ingress: [{ports: [{port: http, endPort: 90}]}]}"
            + "|spec.ingress[0].ports[0].endPort|only be set when port is a number",
        "spec: {podSelector: {}, ingress: [{ports: [{port: 90, endPort: 80}]}]}"
            + "|spec.ingress[0].ports[0].endPort|must be between port (90) and 65535",
        "spec: {podSelector: {}, ingress: [{ports: [{port: Not_A_Name}]}]}"
            + "|spec.ingress[0].ports[0].port|not a valid port number or name",
        "spec: {podSelector: {}, egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8, except: [11.0.0.0/16]}}]}]}"
            + "|spec.egress[0].to[0].ipBlock.except[0]|strict subset of 10.0.0.0/8",
        "spec: {podSelector: {}, egress: [{to: [{ipBlock: {cidr: fd00:10::1/64}}]}]}"
            + "|spec.egress[0].to[0].ipBlock.cidr|has host bits set: the network is fd00:10::/64",
        "spec: {podSelector: {}, egress: [{to: [{ipBlock: {cidr: fd00::/8, except: [10.0.0.0/9]}}]}]}"
            + "|spec.egress[0].to[0].ipBlock.except[0]|must be a strict subset of fd00::/8",
        "spec: {podSelector: {}, egress: [{to: [{ipBlock: {cidr: 10.0.0.1}}]}]}"
            + "|spec.egress[0].to[0].ipBlock.cidr|is not a CIDR",
        "spec: {podSelector: {}, egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8}, podSelector: {}}]}]}"
            + "|spec.egress[0].to[0]|may not specify ipBlock together",
        "spec: {podSelector: {}, ingress: [{from: [{}]}]}"
            + "|spec.ingress[0].from[0]|at least one of podSelector",
      })
  void invalidPoliciesAreRejectedNamingTheField(String spec, String field, String problem) {
    assertThatThrownBy(() -> parse("metadata: {name: p}\n" + spec))
        .isInstanceOf(InvalidPolicyException.class)
        .hasMessageContaining(problem)
        .extracting(e -> ((InvalidPolicyException) e).field())
        .isEqualTo(field);
  }
}
