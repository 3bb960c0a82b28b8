package dev.tweed.lab.service;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tweed.model.Json;
import dev.tweed.model.PodResource;
import dev.tweed.policy.NetworkPolicy;
import dev.tweed.policy.NetworkPolicyParser;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Requests check themselves, so the CLI and the HTTP API refuse the same input the same way. */
class LabRequestsTest {
  static final Duration T = Duration.ofSeconds(1);

  @Test
  void requestsRefuseWhatTheLabCannotDo() {
    assertThatThrownBy(() -> new ProbeRequest("a/b", "c/d", 80, "sctp", T, false))
        .hasMessage("proto must be tcp or udp, got 'sctp'");
    assertThatThrownBy(() -> new ProbeRequest("a/b", "c/d", 0, "tcp", T, false))
        .hasMessage("port must be 1-65535, got 0");
    assertThatThrownBy(() -> new ProbeRequest("a/b", "c/d", 80, "tcp", T, true))
        .hasMessage("client-ip needs proto udp");
    assertThatThrownBy(() -> new ReachabilityRequest(Set.of(), 80, "tcp", Duration.ZERO))
        .hasMessage("timeout must be positive");
    assertThatThrownBy(
            () ->
                new TraceRequest(
                    "a/b", "c/d", 80, "icmp", 1, Optional.empty(), false, true, Optional.empty()))
        .hasMessage("verify sends TCP and UDP packets only");
    assertThatThrownBy(
            () ->
                new TraceRequest(
                    "a/b", "c/d", 80, "tcp", 1, Optional.of(0), false, false, Optional.empty()))
        .hasMessage("pick counts branches from 1, got 0");
    // ICMP has no port: whatever the form held is ignored.
    assertThat(
            new TraceRequest(
                    "a/b", "c/d", 0, "icmp", 1, Optional.empty(), false, false, Optional.empty())
                .port())
        .isZero();
  }

  @Test
  void aPodIsIsolatedPerDirectionByThePoliciesOfItsNamespaceThatSelectIt() throws Exception {
    PodResource web =
        PodResource.from(
            Json.parse(
                "{\"metadata\":{\"namespace\":\"x\",\"name\":\"web\",\"labels\":{\"app\":\"web\"}}}"));
    List<NetworkPolicy> policies =
        List.of(
            policy("x", "in", "{\"podSelector\":{\"matchLabels\":{\"app\":\"web\"}}}"),
            policy("x", "out", "{\"podSelector\":{},\"policyTypes\":[\"Egress\"],\"egress\":[]}"),
            policy("x", "other", "{\"podSelector\":{\"matchLabels\":{\"app\":\"db\"}}}"),
            policy("y", "elsewhere", "{\"podSelector\":{}}"));
    PodIsolation i = LabService.isolation(web, policies);
    assertThat(i.pod()).isEqualTo("x/web");
    assertThat(i.ingress()).containsExactly("x/in");
    assertThat(i.egress()).containsExactly("x/out");
  }

  static NetworkPolicy policy(String ns, String name, String spec) throws Exception {
    return NetworkPolicyParser.parse(
        Json.parse(
            "{\"kind\":\"NetworkPolicy\",\"metadata\":{\"namespace\":\""
                + ns
                + "\",\"name\":\""
                + name
                + "\"},\"spec\":"
                + spec
                + "}"));
  }

  @Test
  void bgpSessionsAreReadFromBirdsProtocolList() {
    String birdc =
        """
        BIRD 2.0.12 ready.
        Name       Proto      Table      State  Since         Info
        device1    Device     ---        up     10:00:00.000
        peer_node_2 BGP       ---        up     10:00:01.500  Established
          Description:    node-2
          BGP state:          Established
            Neighbor address: 172.31.0.12
        peer_node_3 BGP       ---        start  10:00:01.500  Active        Socket: Connection refused
          Description:    node-3
            Neighbor address: 172.31.0.13
        """;
    List<BgpSession> s = BgpSession.parse("node-1", birdc);
    assertThat(s).hasSize(2);
    assertThat(s.get(0))
        .isEqualTo(
            new BgpSession("node-1", "node-2", "172.31.0.12", "up", "10:00:01.500", "Established"));
    assertThat(s.get(0).established()).isTrue();
    assertThat(s.get(1).peer()).isEqualTo("node-3");
    assertThat(s.get(1).established()).isFalse();
    assertThat(s.get(1).info()).startsWith("Active");
  }
}
