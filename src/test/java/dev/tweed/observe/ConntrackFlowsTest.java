package dev.tweed.observe;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Set;
import org.junit.jupiter.api.Test;

/** conntrack -E lines, as conntrack 1.4.7 prints them in a lab node, into flow events. */
class ConntrackFlowsTest {
  private static final Set<String> LOCAL = Set.of("10.244.0.2", "10.244.0.3");

  @Test
  void aServiceConnectionGivesTheBackendTheKernelChose() {
    var e =
        ConntrackFlows.parse(
                "[1796007600.123456]	    [NEW] tcp      6 120 SYN_SENT src=10.244.0.2 dst=10.96.0.10"
                    + " sport=51234 dport=80 [UNREPLIED] src=10.244.0.129 dst=10.244.0.2"
                    + " sport=8080 dport=51234",
                LOCAL::contains)
            .orElseThrow();
    assertThat(e.verdict()).isEqualTo("FORWARDED");
    assertThat(e.direction()).isEqualTo("egress");
    assertThat(e.translated()).isTrue();
    assertThat(e.frontend() + ":" + e.frontendPort()).isEqualTo("10.96.0.10:80");
    assertThat(e.destination() + ":" + e.destinationPort()).isEqualTo("10.244.0.129:8080");
    assertThat(e.client() + ":" + e.clientPort()).isEqualTo("10.244.0.2:51234");
    assertThat(e.protocol()).isEqualTo(6);
  }

  @Test
  void aMasqueradedNodePortKeepsTheClientAndTheNodesOwnTrafficIsLeftOut() {
    var e =
        ConntrackFlows.parse(
                "[1796007600.5]	    [NEW] tcp      6 120 SYN_SENT src=172.31.0.1 dst=172.31.0.12"
                    + " sport=44864 dport=30080 [UNREPLIED] src=10.244.0.3 dst=10.244.0.128"
                    + " sport=8080 dport=44864",
                LOCAL::contains)
            .orElseThrow();
    assertThat(e.direction()).isEqualTo("ingress");
    assertThat(e.source()).isEqualTo("10.244.0.128"); // as the backend sees it
    assertThat(e.client()).isEqualTo("172.31.0.1");
    assertThat(
            ConntrackFlows.parse(
                "[1796007600.5]	    [NEW] udp      17 30 src=172.31.0.13 dst=172.31.0.11"
                    + " sport=43012 dport=4789 [UNREPLIED] src=172.31.0.11 dst=172.31.0.13"
                    + " sport=4789 dport=43012",
                LOCAL::contains))
        .isEmpty();
  }
}
