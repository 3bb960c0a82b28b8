package dev.tweed.calc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tweed.calc.EventSequencer.Step;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class EventSequencerTest {
  private static CalculationGraph.Changes changes(
      boolean routes, boolean bgp, boolean services, boolean policy) {
    return new CalculationGraph.Changes(routes, bgp, services, policy, false, List.of());
  }

  /** What a flush handed the drivers: "STEP" when changed, "step" when only periodic. */
  private static List<String> flush(EventSequencer s) {
    List<String> seen = new ArrayList<>();
    s.flush(
        (step, changed) -> {
          seen.add(changed ? step.name() : step.name().toLowerCase());
          return true;
        });
    return seen;
  }

  @Test
  void everyStepIsChangedAtFirstThenOnlyWhatTheGraphChanged() {
    EventSequencer s = new EventSequencer();
    assertThat(flush(s)).containsExactly("ROUTES", "BGP", "SERVICES", "POLICY");
    assertThat(flush(s)).containsExactly("routes", "bgp", "services", "policy");
    s.add(changes(false, false, false, true));
    s.add(changes(true, false, false, false));
    assertThat(flush(s)).containsExactly("ROUTES", "bgp", "services", "POLICY");
  }

  @Test
  void identitiesChangePolicy() {
    EventSequencer s = new EventSequencer();
    flush(s);
    s.add(new CalculationGraph.Changes(false, false, false, false, true, List.of()));
    assertThat(flush(s)).containsExactly("routes", "bgp", "services", "POLICY");
  }

  @Test
  void aFailedStepAndTheStepsAfterItStayPendingInOrder() {
    EventSequencer s = new EventSequencer();
    flush(s);
    s.add(changes(true, false, true, true));
    List<Step> applied = new ArrayList<>();
    assertThatThrownBy(
            () ->
                s.flush(
                    (step, changed) -> {
                      if (step == Step.SERVICES) {
                        throw new IllegalStateException("refused");
                      }
                      applied.add(step);
                      return true;
                    }))
        .hasMessage("refused");
    assertThat(applied).containsExactly(Step.ROUTES, Step.BGP);
    assertThat(s.pending(Step.ROUTES)).isFalse();
    assertThat(flush(s)).containsExactly("routes", "bgp", "SERVICES", "POLICY");
  }

  @Test
  void aStepThatCannotRunYetStaysPendingWithoutHoldingBackTheOthers() {
    EventSequencer s = new EventSequencer();
    flush(s);
    s.add(changes(false, false, true, true));
    s.flush((step, changed) -> step != Step.POLICY);
    assertThat(s.pending(Step.SERVICES)).isFalse();
    assertThat(s.pending(Step.POLICY)).isTrue();
  }
}
