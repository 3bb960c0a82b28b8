package dev.tweed.datastore;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tweed.model.Json;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JournalDatastoreTest {
  @TempDir Path dir;

  @Test
  void listAtARevisionThenWatchFromItSeesEveryLaterChangeOnce() throws Exception {
    try (var writer = new JournalDatastore(dir);
        var reader = new JournalDatastore(dir)) {
      writer.put("Pod/default/a", Json.parse("{\"n\":1}"));
      Listing l = reader.list("Pod/");
      assertThat(l.entries()).hasSize(1);
      List<Event> seen = new CopyOnWriteArrayList<>();
      try (var w = reader.watch("Pod/", l.revision(), seen::addAll)) {
        writer.put("Pod/default/b", Json.parse("{\"n\":2}"));
        writer.put("Node/n1", Json.parse("{}"));
        writer.delete("Pod/default/a");
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (seen.size() < 2 && System.nanoTime() < deadline) {
          Thread.sleep(10);
        }
        Thread.sleep(200);
      }
      assertThat(seen)
          .extracting(e -> e.type() + " " + e.entry().key())
          .containsExactly("PUT Pod/default/b", "DELETE Pod/default/a");
    }
  }

  @Test
  void compareAndSwapRefusesAStaleRevision() throws Exception {
    try (var a = new JournalDatastore(dir);
        var b = new JournalDatastore(dir)) {
      long r1 = a.put("k/x", Json.parse("1"), Datastore.ABSENT);
      b.put("k/x", Json.parse("2"), r1);
      assertThatThrownBy(() -> a.put("k/x", Json.parse("3"), r1))
          .isInstanceOf(ConflictException.class);
      assertThatThrownBy(() -> a.put("k/x", Json.parse("3"), Datastore.ABSENT))
          .isInstanceOf(ConflictException.class);
      assertThat(a.get("k/x").orElseThrow().value().asInt()).isEqualTo(2);
      assertThat(a.get("k/x").orElseThrow().createRevision()).isEqualTo(r1);
    }
  }

  @Test
  void stateSurvivesReopening() throws Exception {
    try (var a = new JournalDatastore(dir)) {
      a.put("k/x", Json.parse("1"));
      a.put("k/y", Json.parse("2"));
      a.delete("k/x");
    }
    try (var a = new JournalDatastore(dir)) {
      assertThat(a.list("k/").entries()).extracting(Entry::key).containsExactly("k/y");
      assertThat(a.currentRevision()).isEqualTo(3);
    }
  }
}
