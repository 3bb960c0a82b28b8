package dev.tweed.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.model.Json;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A short fault soak, as {@code tweed lab chaos} runs it, in the two setups that between them have
 * every fault: the standard datapath routed by BGP (agents and BIRD killed, links flapped) and the
 * eBPF datapath over VXLAN, both with their state in a 3-member etcd (members killed, the whole
 * store down). Each runs long enough for one round of its faults (each kind once, in random order).
 * Nothing may be lost beyond the targets and every invariant must hold.
 */
class ChaosIT {
  static Stream<Arguments> setups() {
    return Stream.of(
        Arguments.of(
            "chaosb",
            List.of("--routing", "bgp", "--datastore", "etcd"),
            "agent-kill,bird-kill,etcd-kill,link-flap,store-outage",
            "75s"),
        Arguments.of(
            "chaose",
            List.of("--dataplane", "ebpf", "--datastore", "etcd"),
            "agent-kill,etcd-kill,link-flap,store-outage",
            "60s"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("setups")
  void aShortSoakLosesNothingBeyondItsTargetsAndKeepsEveryInvariant(
      String stem, List<String> setup, String faults, String duration) {
    Tweed tweed = Tweed.newLab(stem);
    List<String> up = new ArrayList<>(List.of("lab", "up", "--nodes", "3"));
    up.addAll(setup);
    up.addAll(List.of("-f", Tweed.HOME.resolve("examples/services.yaml").toString()));
    try {
      tweed.ok(up.toArray(String[]::new));
      var r =
          tweed.run(
              "lab",
              "chaos",
              "--duration",
              duration,
              "--seed",
              "7",
              "--faults",
              faults,
              "-o",
              "json");
      System.out.println(r.stdout());
      System.out.println(r.stderr());
      JsonNode report = Json.parse(r.stdout());
      // A lost probe comes with what the eBPF datapath dropped of it (and nothing else does).
      assertThat(report.path("datapathDropsReported").asBoolean())
          .isEqualTo(setup.contains("ebpf"));
      assertThat(report.path("lostOutsideFaults").asLong()).isZero();
      List<String> injected = new ArrayList<>();
      for (JsonNode k : report.path("faults")) {
        injected.add(k.path("kind").asText());
        assertThat(k.path("lostBeyondTarget").asLong()).as(k.toString()).isZero();
        assertThat(k.path("probesSent").asLong()).as(k.toString()).isPositive();
      }
      assertThat(injected).containsExactlyInAnyOrder(faults.split(","));
      for (JsonNode c : report.path("invariants")) {
        assertThat(c.path("holds").asBoolean()).as(c.toString()).isTrue();
      }
      assertThat(report.path("pods").path("created").asInt()).isPositive();
      assertThat(report.path("passed").asBoolean()).isTrue();
      assertThat(r.exitCode()).as(r.stderr()).isZero();
    } finally {
      tweed.ok("lab", "down");
      assertThat(tweed.namespaces()).isEmpty();
    }
  }
}
