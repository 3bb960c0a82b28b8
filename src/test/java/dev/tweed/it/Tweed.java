package dev.tweed.it;

import static org.assertj.core.api.Assertions.assertThat;

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
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!cond.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out after " + timeout + " waiting for " + what);
      }
      try {
        Thread.sleep(100);
      } catch (InterruptedException e) {
        throw new AssertionError(e);
      }
    }
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
