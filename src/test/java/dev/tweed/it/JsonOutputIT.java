package dev.tweed.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectReader;
import dev.tweed.cli.CommandTree;
import dev.tweed.model.Json;
import dev.tweed.sys.Command;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import picocli.CommandLine;

/**
 * Every command that takes {@code -o json} prints JSON on standard output and nothing else, run
 * against a lab with every part those commands read (two eBPF nodes on an etcd datastore, the web
 * view's pods and Service) and, for benchmarks, at their smallest. The commands are found in the
 * command tree: one that gains {@code -o} without a line here fails the test until it has one.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class JsonOutputIT {
  /** How each command is run, without {@code -o json}; and whether it prints JSON lines. */
  private record Invocation(List<String> args, boolean lines) {
    static Invocation of(String... args) {
      return new Invocation(List.of(args), false);
    }
  }

  private static final Map<String, Invocation> INVOCATIONS =
      Map.ofEntries(
          Map.entry(
              "trace", Invocation.of("trace", "--from", "default/client", "--to", "default/web-2")),
          Map.entry("lab get", Invocation.of("lab", "get", "pods")),
          Map.entry("lab status", Invocation.of("lab", "status")),
          Map.entry(
              "lab probe",
              Invocation.of("lab", "probe", "--from", "default/client", "--to", "default/web-1")),
          Map.entry(
              "lab reachability", Invocation.of("lab", "reachability", "--namespaces", "default")),
          Map.entry("lab observe", new Invocation(List.of("lab", "observe", "--last", "5"), true)),
          Map.entry("lab bpf", Invocation.of("lab", "bpf", "node-1", "services")),
          Map.entry("lab etcd status", Invocation.of("lab", "etcd", "status")),
          Map.entry(
              "lab chaos",
              Invocation.of(
                  "lab", "chaos", "--duration", "3s", "--faults", "agent-kill", "--seed", "1")),
          Map.entry(
              "bench cni",
              Invocation.of("bench", "cni", "--pods", "3", "--warmup", "1", "--dataplane", "ebpf")),
          Map.entry(
              "bench agent",
              Invocation.of(
                  "bench",
                  "agent",
                  "--mode",
                  "ebpf",
                  "--jvm",
                  "lab",
                  "--services",
                  "10",
                  "--endpoints",
                  "2",
                  "--policies",
                  "2",
                  "--pods",
                  "2",
                  "--idle-seconds",
                  "1",
                  "--pod-adds",
                  "3")),
          Map.entry(
              "bench services",
              Invocation.of(
                  "bench",
                  "services",
                  "--mode",
                  "ebpf",
                  "--services",
                  "10",
                  "--connections",
                  "1")));

  /** A reader that refuses anything after the first JSON value. */
  private static final ObjectReader STRICT =
      Json.MAPPER.reader().with(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

  Tweed tweed;

  @BeforeAll
  void up() {
    tweed = Tweed.newLab("json");
    tweed.ok(
        "lab",
        "up",
        "--nodes",
        "2",
        "--dataplane",
        "ebpf",
        "--datastore",
        "etcd",
        "--etcd-members",
        "1",
        "-f",
        WebLab.resource("lab.yaml"));
  }

  @AfterAll
  void down() {
    if (tweed != null) {
      tweed.ok("lab", "down");
      assertThat(tweed.namespaces()).isEmpty();
    }
  }

  @Test
  void everyCommandWithOutputJsonPrintsJsonAlone() throws Exception {
    assertThat(new TreeSet<>(INVOCATIONS.keySet()))
        .as("the commands that take -o, as the command tree has them")
        .isEqualTo(commandsWithOutputOption());
    Map<String, String> failures = new TreeMap<>();
    for (var e : new TreeMap<>(INVOCATIONS).entrySet()) {
      List<String> args = new ArrayList<>(e.getValue().args());
      args.addAll(List.of("-o", "json"));
      Command.Result r = tweed.run(args.toArray(String[]::new));
      if (!r.ok()) {
        failures.put(e.getKey(), "exit " + r.exitCode() + ": " + r.stderr().strip());
        continue;
      }
      try {
        if (e.getValue().lines()) {
          for (String line : r.stdout().split("\n")) {
            if (!line.isBlank()) {
              STRICT.readTree(line);
            }
          }
        } else {
          assertThat(r.stdout()).as(e.getKey()).isNotBlank();
          STRICT.readTree(r.stdout());
        }
      } catch (Exception notJson) {
        failures.put(e.getKey(), "not JSON: " + notJson.getMessage() + "\n" + r.stdout());
      }
    }
    assertThat(failures).as("commands whose -o json is not JSON alone").isEmpty();
  }

  /** Every command of the tree with an {@code -o} option, by its path below {@code tweed}. */
  private static TreeSet<String> commandsWithOutputOption() {
    TreeSet<String> out = new TreeSet<>();
    collect(CommandTree.full(), out);
    return out;
  }

  private static void collect(CommandLine cl, TreeSet<String> out) {
    if (cl.getCommandSpec().findOption("-o") != null) {
      out.add(cl.getCommandSpec().qualifiedName(" ").replaceFirst("^tweed ", ""));
    }
    cl.getSubcommands().values().forEach(sub -> collect(sub, out));
  }
}
