package dev.tweed.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tweed.lab.Namespaces;
import dev.tweed.sys.Command;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** lab up and down leave the machine as it was, even when up is killed halfway. */
class LabLifecycleIT {
  final Tweed tweed = Tweed.newLab("life");

  @AfterEach
  void cleanup() {
    tweed.run("lab", "down");
  }

  static String rootLinks() {
    return Command.run(List.of("ip", "-o", "link", "show")).replaceAll("\\s+link/.*", "");
  }

  @Test
  void upThenDownLeavesNamespacesAndRootLinksAsTheyWere() {
    List<String> netnsBefore = Namespaces.list();
    String linksBefore = rootLinks();
    tweed.ok("lab", "up", "--nodes", "2");
    assertThat(tweed.namespaces())
        .contains(
            tweed.prefix() + "fabric",
            tweed.prefix() + "router",
            tweed.prefix() + "node-1",
            tweed.prefix() + "node-2");
    assertThat(rootLinks()).as("nothing is created in the root namespace").isEqualTo(linksBefore);
    String out = tweed.ok("lab", "down");
    assertThat(out).contains("is down");
    assertThat(Namespaces.list()).containsExactlyInAnyOrderElementsOf(netnsBefore);
    assertThat(rootLinks()).isEqualTo(linksBefore);
    assertThat(Path.of("/run/tweed", tweed.lab())).doesNotExist();
    tweed.ok("lab", "down");
  }

  @Test
  void downAfterAKilledUpRemovesEverything() throws Exception {
    List<String> netnsBefore = Namespaces.list();
    ProcessBuilder pb =
        new ProcessBuilder(Tweed.HOME.resolve("tweed").toString(), "lab", "up", "--nodes", "3");
    pb.environment().putAll(Map.of("TWEED_LAB", tweed.lab()));
    pb.redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD);
    Process up = pb.start();
    // Kill the CLI once agents are being started: namespaces and daemons exist, up never finishes.
    Tweed.await(
        "agents starting",
        Duration.ofSeconds(60),
        () -> Path.of("/run/tweed", tweed.lab(), "logs").toFile().exists() || !up.isAlive());
    up.destroyForcibly();
    up.waitFor(10, TimeUnit.SECONDS);
    assertThat(tweed.namespaces()).isNotEmpty();
    var again = tweed.run("lab", "up");
    assertThat(again.exitCode()).isNotZero();
    assertThat(again.stderr()).contains("lab down");
    tweed.ok("lab", "down");
    assertThat(Namespaces.list()).containsExactlyInAnyOrderElementsOf(netnsBefore);
    // No agent of this lab survives.
    String ps = Command.run(List.of("ps", "-eo", "args"));
    assertThat(ps).doesNotContain("lab=" + tweed.lab());
  }
}
