package dev.tweed.bench;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.datastore.JournalDatastore;
import dev.tweed.model.Json;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.UUID;
import java.util.stream.Stream;

/**
 * The embedded journal over many pod create/delete cycles, compacted and not, in one run. A cycle
 * is the nine writes a lab made for one pod created and deleted ({@code bench/pod-cycle.jsonl},
 * recorded from a one-node lab: the pod, its status updates, the IPAM block's allocation and
 * release, the workload endpoint, the deletions), replayed with each cycle's own pod name and uid.
 */
public final class JournalBenchmark {
  private final PrintStream out;

  public JournalBenchmark(PrintStream out) {
    this.out = out;
  }

  /** One measured case. */
  public record Result(String mode, int cycles, long journalBytes, double microsPerCycle) {}

  private record Write(String key, String value) {}

  private static final String NAME = "cyc";
  private static final String UID = "ec92a9c7-83e6-4562-a7dc-630b314c352d";

  static List<Write> template() {
    try (InputStream in = JournalBenchmark.class.getResourceAsStream("/bench/pod-cycle.jsonl")) {
      List<Write> out = new ArrayList<>();
      for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
        if (line.isBlank()) {
          continue;
        }
        JsonNode n = Json.parse(line);
        out.add(
            new Write(
                n.get("key").asText(), n.hasNonNull("value") ? Json.write(n.get("value")) : null));
      }
      return out;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public List<Result> run(int cycles) throws Exception {
    List<Write> cycle = template();
    List<Result> results = new ArrayList<>();
    for (int compactAfter : List.of(Integer.MAX_VALUE, JournalDatastore.DEFAULT_COMPACT_AFTER)) {
      Path dir = Files.createTempDirectory("tweed-journal-bench");
      try (JournalDatastore store = new JournalDatastore(dir, compactAfter)) {
        long start = System.nanoTime();
        for (int i = 0; i < cycles; i++) {
          String uid = UUID.randomUUID().toString();
          String name = "p" + i;
          for (Write w : cycle) {
            String key = rename(w.key(), name, uid);
            if (w.value() == null) {
              store.delete(key);
            } else {
              store.put(key, Json.parse(rename(w.value(), name, uid)));
            }
          }
        }
        double micros = (System.nanoTime() - start) / 1e3 / cycles;
        String mode =
            compactAfter == Integer.MAX_VALUE
                ? "never compacted"
                : "compacted after " + compactAfter + " records";
        results.add(new Result(mode, cycles, store.journalBytes(), micros));
      } finally {
        try (Stream<Path> files = Files.walk(dir)) {
          for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
            Files.delete(p);
          }
        }
      }
    }
    Result base = results.get(0);
    out.printf("%-36s %8s %14s %12s%n", "journal", "cycles", "size", "per cycle");
    for (Result r : results) {
      out.printf(
          "%-36s %8d %11.2f MB %9.0f µs  (size %.4fx, time %.2fx of never compacted)%n",
          r.mode(),
          r.cycles(),
          r.journalBytes() / 1e6,
          r.microsPerCycle(),
          (double) r.journalBytes() / base.journalBytes(),
          r.microsPerCycle() / base.microsPerCycle());
    }
    return results;
  }

  private static String rename(String s, String name, String uid) {
    return s.replace(UID, uid)
        .replace(UID.replace("-", ""), uid.replace("-", ""))
        .replace("\"" + NAME + "\"", "\"" + name + "\"")
        .replace("/" + NAME, "/" + name);
  }
}
