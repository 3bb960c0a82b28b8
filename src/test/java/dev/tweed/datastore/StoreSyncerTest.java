package dev.tweed.datastore;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tweed.model.Json;
import java.net.ConnectException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StoreSyncerTest {
  @TempDir Path dir;

  /**
   * A journal whose first watch is broken at once, as etcd breaks a watch whose start revision was
   * compacted: a double for the one event a journal never produces. Writes made between the
   * syncer's first list and the break are what a compaction would have hidden.
   */
  static class CompactingStoreDouble extends JournalBackedDouble {
    final AtomicInteger watches = new AtomicInteger();
    final Runnable beforeBreak;

    CompactingStoreDouble(JournalDatastore journal, Runnable beforeBreak) {
      super(journal);
      this.beforeBreak = beforeBreak;
    }

    @Override
    public AutoCloseable watch(
        String prefix,
        long afterRevision,
        Consumer<List<Event>> onEvents,
        Consumer<WatchBrokenException> onBroken) {
      if (watches.getAndIncrement() == 0) {
        beforeBreak.run();
        onBroken.accept(
            new WatchBrokenException("required revision has been compacted", true, null));
        return () -> {};
      }
      return journal.watch(prefix, afterRevision, onEvents, onBroken);
    }
  }

  @Test
  void aCompactedWatchIsFollowedByAFreshListAndLaterChangesStillArrive() throws Exception {
    try (var writer = new JournalDatastore(dir)) {
      writer.put("Pod/default/a", Json.parse("{\"v\":1}"));
      var store =
          new CompactingStoreDouble(
              new JournalDatastore(dir),
              () -> {
                writer.put("Pod/default/b", Json.parse("{\"v\":2}"));
                writer.delete("Pod/default/a");
              });
      var mirror = new UpdateMirror();
      try (store;
          var syncer = new StoreSyncer(store, List.of("Pod/"), mirror)) {
        syncer.start();
        await(() -> syncer.synced() && mirror.snapshot().containsKey("Pod/default/b"));
        // The re-list reached the listener as updates: a, listed first, was deleted.
        assertThat(mirror.snapshot()).containsOnlyKeys("Pod/default/b");
        assertThat(store.watches.get()).isEqualTo(2);
        writer.put("Pod/default/c", Json.parse("{\"v\":3}"));
        await(() -> mirror.snapshot().containsKey("Pod/default/c"));
        assertThat(syncer.revision()).isEqualTo(writer.currentRevision());
        assertThat(mirror.inconsistencies()).isEmpty();
      }
    }
  }

  /**
   * The journal hands a new watch the events it missed on the caller's thread, before {@code watch}
   * returns: a write landing between the syncer's list and its watch arrives that way. The listing
   * must still reach the listener first; handed on after that event, it made an update buffer merge
   * the two into "no change" and drop the key (an agent restarted while the lab marked its node
   * Ready never saw its own Node).
   */
  @Test
  void aWriteBetweenTheListAndTheWatchReachesTheListenerAfterTheListing() throws Exception {
    try (var journal = new JournalDatastore(dir)) {
      journal.put("Node/node-3", Json.parse("{\"ready\":false}"));
      var store =
          new CompactingStoreDouble(journal, () -> {}) {
            @Override
            public AutoCloseable watch(
                String prefix,
                long afterRevision,
                Consumer<List<Event>> onEvents,
                Consumer<WatchBrokenException> onBroken) {
              journal.put("Node/node-3", Json.parse("{\"ready\":true}"));
              return journal.watch(prefix, afterRevision, onEvents, onBroken);
            }
          };
      var buffer = new UpdateBuffer();
      try (var syncer = new StoreSyncer(store, List.of("Node/"), buffer::add)) {
        syncer.start();
        UpdateBatch pending = buffer.drain();
        assertThat(pending.updates())
            .singleElement()
            .satisfies(
                u -> {
                  assertThat(u.key()).isEqualTo("Node/node-3");
                  assertThat(u.old()).isEmpty();
                  assertThat(u.value()).contains(Json.parse("{\"ready\":true}"));
                });
        assertThat(pending.revision()).isEqualTo(journal.currentRevision());
      }
    }
  }

  @Test
  void anUnreachableStoreAtStartIsListedOnceItAnswers() throws Exception {
    try (var writer = new JournalDatastore(dir)) {
      writer.put("Pod/default/a", Json.parse("{}"));
      AtomicInteger failuresLeft = new AtomicInteger(3);
      var store =
          new CompactingStoreDouble(new JournalDatastore(dir), () -> {}) {
            @Override
            public Listing list(String prefix) {
              if (failuresLeft.getAndDecrement() > 0) {
                throw new DatastoreUnavailableException(
                    "list", new ConnectException("connection refused"));
              }
              return super.list(prefix);
            }
          };
      store.watches.set(1); // no compaction here: watches pass straight through
      var mirror = new UpdateMirror();
      try (store;
          var syncer = new StoreSyncer(store, List.of("Pod/"), mirror)) {
        syncer.start();
        assertThat(syncer.synced()).isFalse();
        await(syncer::synced);
        assertThat(mirror.snapshot()).containsOnlyKeys("Pod/default/a");
      }
    }
  }

  static void await(BooleanSupplier cond) throws InterruptedException {
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (!cond.getAsBoolean()) {
      assertThat(System.nanoTime()).as("condition not met in 10 s").isLessThan(deadline);
      Thread.sleep(10);
    }
  }
}
