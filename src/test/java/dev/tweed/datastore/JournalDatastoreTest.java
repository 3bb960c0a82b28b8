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
        // A last change under the prefix: events arrive in order, so once it is seen, a change
        // outside the prefix that would be delivered has been, and a missing one never will be.
        writer.put("Pod/default/last", Json.parse("{}"));
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (seen.size() < 3 && System.nanoTime() < deadline) {
          Thread.sleep(10);
        }
      }
      assertThat(seen)
          .extracting(e -> e.type() + " " + e.entry().key())
          .containsExactly("PUT Pod/default/b", "DELETE Pod/default/a", "PUT Pod/default/last");
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
  void severalKeysAreWrittenAllOrNone() throws Exception {
    try (var a = new JournalDatastore(dir);
        var b = new JournalDatastore(dir)) {
      long x = a.put("k/x", Json.parse("1"), Datastore.ABSENT);
      long y = a.put("k/y", Json.parse("1"), Datastore.ABSENT);
      b.put("k/y", Json.parse("2"), y);
      // y moved: neither is written.
      assertThatThrownBy(
              () ->
                  a.putAll(
                      List.of(
                          new Datastore.Put("k/x", Json.parse("3"), x),
                          new Datastore.Put("k/y", Json.parse("3"), y))))
          .isInstanceOf(ConflictException.class)
          .hasMessageContaining("k/y");
      assertThat(a.get("k/x").orElseThrow().value().asInt()).isEqualTo(1);
      long y2 = a.get("k/y").orElseThrow().modRevision();
      long last =
          a.putAll(
              List.of(
                  new Datastore.Put("k/x", Json.parse("3"), x),
                  new Datastore.Put("k/y", Json.parse("3"), y2),
                  new Datastore.Put("k/z", Json.parse("3"), Datastore.ABSENT)));
      // A revision per key, as three writes would have had; the other instance sees them all.
      assertThat(b.get("k/x").orElseThrow().modRevision()).isEqualTo(last - 2);
      assertThat(b.get("k/y").orElseThrow().modRevision()).isEqualTo(last - 1);
      assertThat(b.get("k/z").orElseThrow().modRevision()).isEqualTo(last);
      assertThat(b.currentRevision()).isEqualTo(last);
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

  @Test
  void compactionKeepsEveryKeyWithItsRevisionsAndShrinksTheJournal() throws Exception {
    try (var a = new JournalDatastore(dir, 100)) {
      for (int i = 0; i < 1000; i++) {
        a.put("Pod/ns/p" + i, Json.parse("{\"n\":" + i + "}"));
        if (i % 10 != 0) {
          a.delete("Pod/ns/p" + i);
        }
      }
      assertThat(a.currentRevision()).isEqualTo(1900);
      assertThat(a.compactedRevision()).isGreaterThan(1750);
      // 100 live keys: a snapshot and at most 100 records after it.
      assertThat(a.journalBytes()).isLessThan(20_000);
    }
    try (var b = new JournalDatastore(dir)) {
      assertThat(b.list("Pod/").entries()).hasSize(100);
      Entry p990 = b.get("Pod/ns/p990").orElseThrow();
      assertThat(p990.createRevision()).isEqualTo(p990.modRevision());
      assertThat(p990.createRevision()).isEqualTo(1882);
      assertThat(b.currentRevision()).isEqualTo(1900);
      assertThat(b.put("Pod/ns/new", Json.parse("{}"))).isEqualTo(1901);
    }
  }

  @Test
  void aReaderFollowsAcrossCompactionsWithoutMissingAnEvent() throws Exception {
    try (var writer = new JournalDatastore(dir, 100);
        var reader = new JournalDatastore(dir, 100)) {
      List<Event> seen = new CopyOnWriteArrayList<>();
      try (var w = reader.watch("k/", reader.currentRevision(), seen::addAll)) {
        for (int i = 0; i < 500; i++) {
          writer.put("k/" + (i % 7), Json.parse(String.valueOf(i)));
          if (i % 40 == 0) {
            // The reader reads up now and then: it lags by up to 40 records, fewer than the 50 a
            // compaction keeps, and crosses each compaction without losing one.
            reader.currentRevision();
          }
        }
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (seen.size() < 500 && System.nanoTime() < deadline) {
          Thread.sleep(20);
        }
      }
      assertThat(writer.compactedRevision()).isGreaterThan(350);
      assertThat(seen).hasSize(500);
      assertThat(seen).extracting(Event::revision).isSorted().doesNotHaveDuplicates();
      assertThat(reader.get("k/3").orElseThrow().value().asInt()).isEqualTo(493);
    }
  }

  @Test
  void aWatchFromACompactedRevisionIsToldSo() throws Exception {
    try (var a = new JournalDatastore(dir, 20)) {
      for (int i = 0; i < 100; i++) {
        a.put("k/x", Json.parse(String.valueOf(i)));
      }
    }
    try (var fresh = new JournalDatastore(dir, 20)) {
      List<WatchBrokenException> broken = new CopyOnWriteArrayList<>();
      List<Event> seen = new CopyOnWriteArrayList<>();
      fresh.watch("k/", 5, seen::addAll, broken::add);
      assertThat(broken).singleElement().satisfies(e -> assertThat(e.compacted()).isTrue());
      assertThat(seen).isEmpty();
      // From the listing's revision, it goes on.
      fresh.watch("k/", fresh.list("k/").revision(), seen::addAll, broken::add);
      assertThat(broken).hasSize(1);
    }
  }

  @Test
  void writersOnBothSidesOfACompactionLoseNoWrite() throws Exception {
    try (var a = new JournalDatastore(dir, 30);
        var b = new JournalDatastore(dir, 30)) {
      Thread t =
          Thread.ofPlatform()
              .start(
                  () -> {
                    for (int i = 0; i < 300; i++) {
                      a.put("a/" + i, Json.parse("1"));
                    }
                  });
      for (int i = 0; i < 300; i++) {
        b.put("b/" + i, Json.parse("1"));
      }
      t.join();
      assertThat(a.currentRevision()).isEqualTo(600);
      assertThat(b.list("a/").entries()).hasSize(300);
      assertThat(b.list("b/").entries()).hasSize(300);
    }
    try (var c = new JournalDatastore(dir)) {
      assertThat(c.list("").entries()).hasSize(600);
    }
  }
}
