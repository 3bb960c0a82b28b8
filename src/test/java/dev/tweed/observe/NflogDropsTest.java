package dev.tweed.observe;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tweed.ebpf.FlowEvent;
import dev.tweed.policy.DropLog;
import dev.tweed.sys.NflogSocket;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

/** A logged packet as the kernel hands it over, turned into a denied flow. */
class NflogDropsTest {
  /** IPv4 TCP 10.244.0.2:40000 > 10.244.0.66:80, SYN, as the drop rule copied it. */
  static final byte[] SYN =
      HexFormat.of()
          .parseHex(
              "45000028000040004006000a0af400020af400429c4000500000000100000000"
                  + "50022000000000000000");

  @Test
  void aPolicyDropBecomesADeniedFlowWithItsDirectionAndPorts() {
    NflogSocket.Logged l =
        new NflogSocket.Logged(DropLog.prefix("policy-denied", "ingress"), 2, 0, 5, 7, SYN);
    FlowEvent e = NflogDrops.event(l, 42).orElseThrow();
    assertThat(e.verdict()).isEqualTo("DROPPED");
    assertThat(e.reason()).isEqualTo("policy-denied");
    assertThat(e.direction()).isEqualTo("ingress");
    assertThat(e.program()).isEqualTo("netfilter FORWARD");
    assertThat(e.source()).isEqualTo("10.244.0.2");
    assertThat(e.sourcePort()).isEqualTo(40000);
    assertThat(e.destination()).isEqualTo("10.244.0.66");
    assertThat(e.destinationPort()).isEqualTo(80);
    assertThat(e.protocol()).isEqualTo(6);
    assertThat(e.ifindex()).isEqualTo(5);
  }

  /** IPv6 TCP [fd00:10:244::43]:32768 > [fd00:10:244::3]:8080, SYN. */
  static final byte[] SYN6 =
      HexFormat.of()
          .parseHex(
              "6000000000140640"
                  + "fd000010024400000000000000000043"
                  + "fd000010024400000000000000000003"
                  + "80001f9000000001000000005002200000000000");

  @Test
  void anIpv6PolicyDropBecomesADeniedFlowToo() {
    NflogSocket.Logged l =
        new NflogSocket.Logged(DropLog.prefix("policy-denied", "ingress"), 2, 0, 5, 7, SYN6);
    FlowEvent e = NflogDrops.event(l, 42).orElseThrow();
    assertThat(e.source()).isEqualTo("fd00:10:244::43");
    assertThat(e.sourcePort()).isEqualTo(32768);
    assertThat(e.destination()).isEqualTo("fd00:10:244::3");
    assertThat(e.destinationPort()).isEqualTo(8080);
    assertThat(e.protocol()).isEqualTo(6);
    assertThat(e.reason()).isEqualTo("policy-denied");
  }

  @Test
  void packetsOthersLoggedAreNoFlowsOfOurs() {
    assertThat(NflogDrops.event(new NflogSocket.Logged("other:x", 0, 0, 1, 0, SYN), 0)).isEmpty();
    assertThat(
            NflogDrops.event(
                new NflogSocket.Logged(
                    DropLog.prefix("spoofed-source", "egress"), 0, 0, 1, 0, new byte[4]),
                0))
        .isEmpty();
  }

  @Test
  void thePrefixRoundTrips() {
    assertThat(DropLog.parse(DropLog.prefix("spoofed-source", "egress")))
        .hasValue(new DropLog.Reason("spoofed-source", "egress"));
    assertThat(DropLog.prefix("policy-denied", "ingress").length()).isLessThanOrEqualTo(63);
  }
}
