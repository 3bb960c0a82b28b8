package dev.tweed.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.datastore.JournalDatastore;
import dev.tweed.lab.Namespaces;
import dev.tweed.model.Json;
import dev.tweed.sys.Command;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/** Drives the {@code ./tweed} launcher as a user would, against one lab of the test's own. */
public final class Tweed {
  public static final Path HOME = Path.of(System.getProperty("tweed.home", ".")).toAbsolutePath();
  private final String lab;

  private Tweed(String lab) {
    this.lab = lab;
  }

  /** A lab name unique to this run, so parallel or leftover labs never collide. */
  public static Tweed newLab(String stem) {
    return new Tweed(stem + Integer.toString(ThreadLocalRandom.current().nextInt(1 << 20), 36));
  }

  public String lab() {
    return lab;
  }

  public String prefix() {
    return "tw-" + lab + "-";
  }

  public Command.Result run(String... args) {
    List<String> argv = new ArrayList<>();
    argv.add(HOME.resolve("tweed").toString());
    argv.addAll(List.of(args));
    return Command.exec(argv, new byte[0], Map.of("TWEED_LAB", lab), 300);
  }

  /** A lab pod's address, as {@code lab get pods} reports it. */
  public String podIp(String name) {
    for (var p : Json.parse(ok("lab", "get", "pods", "-o", "json")).path("items")) {
      if (p.path("metadata").path("name").asText().equals(name)) {
        return p.path("status").path("podIP").asText();
      }
    }
    throw new AssertionError("no pod " + name);
  }

  /** Runs and requires exit 0, returning stdout. */
  public String ok(String... args) {
    Command.Result r = run(args);
    assertThat(r.exitCode())
        .as("tweed %s\nstdout: %s\nstderr: %s", String.join(" ", args), r.stdout(), r.stderr())
        .isZero();
    return r.stdout();
  }

  /** Namespaces of this lab still present. */
  public List<String> namespaces() {
    return Namespaces.list().stream().filter(n -> n.startsWith(prefix())).toList();
  }

  public String nodeNs(String node) {
    return prefix() + node;
  }

  public static String ip(String netns, String... args) {
    List<String> argv = new ArrayList<>(List.of("ip", "-n", netns));
    argv.addAll(List.of(args));
    return Command.run(argv);
  }

  public static void await(String what, Duration timeout, BooleanSupplier cond) {
    await(what, timeout, cond, () -> "");
  }

  /**
   * As {@link #await(String, Duration, BooleanSupplier)}; a timeout also says what {@code state}
   * sees.
   */
  public static void await(
      String what, Duration timeout, BooleanSupplier cond, Supplier<String> state) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!cond.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        String seen = state.get();
        throw new AssertionError(
            "timed out after "
                + timeout
                + " waiting for "
                + what
                + (seen.isEmpty() ? "" : "; " + seen.strip().replace('\n', ' ')));
      }
      try {
        Thread.sleep(100);
      } catch (InterruptedException e) {
        throw new AssertionError(e);
      }
    }
  }

  /** Each node's agent as {@code lab status -o json} shows it. */
  public List<JsonNode> agents() {
    List<JsonNode> out = new ArrayList<>();
    Json.parse(ok("lab", "status", "-o", "json")).forEach(out::add);
    return out;
  }

  /** Reconcile passes {@code node}'s agent has made so far. */
  public long reconciles(String node) {
    return agents().stream()
        .filter(a -> a.path("node").asText().equals(node))
        .mapToLong(a -> a.path("health").path("reconciles").asLong(-1))
        .findFirst()
        .orElse(-1);
  }

  /**
   * Waits until {@code node}'s agent has made {@code passes} more passes than now: whatever it
   * would repair or remove by then, it has (a pass runs at least every second).
   */
  public void awaitPasses(String node, int passes) {
    long target = reconciles(node) + passes;
    await(
        passes + " passes of " + node + "'s agent",
        Duration.ofSeconds(30),
        () -> reconciles(node) >= target);
  }

  /** Waits until every agent is ready. */
  public void awaitAgentsReady() {
    await(
        "every agent ready",
        Duration.ofSeconds(60),
        () -> agents().stream().allMatch(a -> a.path("ready").asBoolean()));
  }

  /**
   * Waits until every agent has programmed its policy from everything its datastore holds now:
   * after it, a change the store held would be in the kernel, and one it did not never will be.
   */
  public void awaitPoliciesCaughtUp() {
    await(
        "every agent's policy at its datastore's revision",
        Duration.ofSeconds(60),
        () ->
            agents().stream()
                .allMatch(
                    a ->
                        a.path("health").path("policyRevision").asLong(-1)
                            >= a.path("health").path("datastoreRevision").asLong()));
  }

  /** Addresses the lab's embedded store has allocated to {@code node}. */
  public int allocationsOn(String node) {
    try (var store = new JournalDatastore(Path.of("/run/tweed", lab(), "store"))) {
      return store.list("IPAMBlock/").entries().stream()
          .filter(e -> e.value().path("spec").path("node").asText().equals(node))
          .mapToInt(e -> e.value().path("status").path("allocations").size())
          .sum();
    }
  }
}
