package dev.tweed.lab.chaos;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tweed.lab.LabSpec;
import dev.tweed.lab.LabState;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ChaosAttributionTest {
  static final long S = 1_000_000_000L;
  static final ProbeMesh.Path TO_NODE_2 =
      new ProbeMesh.Path(
          "a -> b",
          "ns-a",
          "10.0.0.1",
          "10.0.0.2",
          80,
          Set.of("10.0.0.2"),
          Set.of("node-1", "node-2"));
  static final ProbeMesh.Path ELSEWHERE =
      new ProbeMesh.Path(
          "a -> c",
          "ns-a",
          "10.0.0.1",
          "10.0.0.3",
          80,
          Set.of("10.0.0.3"),
          Set.of("node-1", "node-3"));

  static Fault flap(String node, long at) {
    // Down at `at` for 3 s, recovered 1 s later, allowed 2 s after the link came back.
    return new Fault(
        FaultKind.LINK_FLAP, node, at, at + 3 * S, at + 4 * S, Optional.of(node), at + 5 * S);
  }

  static Fault agentKill(long at) {
    return new Fault(
        FaultKind.AGENT_KILL, "node-1", at, at + S, at + 2 * S, Optional.empty(), at + 2 * S);
  }

  static ProbeMesh.Failure lost(ProbeMesh.Path p, long at) {
    return new ProbeMesh.Failure(p, at, Instant.EPOCH, "timed out connecting");
  }

  @Test
  void aFlapAllowsOnlyItsNodesPathsAndOnlyUntilItsAllowanceEnds() {
    List<Fault> faults = List.of(flap("node-2", 100 * S));
    var a =
        ChaosRun.attribute(
            List.of(
                lost(TO_NODE_2, 98 * S), // in flight when the link went down: allowed
                lost(TO_NODE_2, 104 * S), // after the link came back, within the allowance
                lost(TO_NODE_2, 105 * S + 1), // past the allowance, still in the window
                lost(ELSEWHERE, 101 * S)), // a path that does not need node-2
            faults,
            3 * S);
    assertThat(a)
        .extracting(ChaosReport.Attributed::allowed)
        .containsExactly(true, true, false, false);
    assertThat(a).allMatch(x -> x.fault().isPresent());
  }

  @Test
  void nothingIsAllowedUnderOtherFaultsOrOutsideEveryFault() {
    var a =
        ChaosRun.attribute(
            List.of(lost(TO_NODE_2, 51 * S), lost(TO_NODE_2, 80 * S)),
            List.of(agentKill(50 * S)),
            3 * S);
    assertThat(a.get(0).fault()).isPresent();
    assertThat(a.get(0).allowed()).isFalse();
    assertThat(a.get(1).fault()).isEmpty();
    assertThat(a.get(1).allowed()).isFalse();
  }

  @Test
  void faultsALabCannotHaveAreRefusedWithTheReason() {
    LabState vxlanEmbedded = new LabState(LabSpec.of(3), Map.of());
    assertThat(FaultKind.availableIn(vxlanEmbedded))
        .containsExactly(FaultKind.AGENT_KILL, FaultKind.LINK_FLAP);
    assertThat(FaultKind.BIRD_KILL.unavailableIn(vxlanEmbedded)).get().asString().contains("BGP");
    assertThat(FaultKind.STORE_OUTAGE.unavailableIn(vxlanEmbedded))
        .get()
        .asString()
        .contains("etcd");
    assertThatThrownBy(() -> FaultKind.parse("disk-full"))
        .hasMessageContaining("unknown fault disk-full")
        .hasMessageContaining("link-flap");
  }
}
