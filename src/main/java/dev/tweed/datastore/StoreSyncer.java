package dev.tweed.datastore;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps a cache of the resources under some key prefixes of a {@link Datastore}: one list, then a
 * watch from the list's revision, as Felix's syncer and client-go's reflectors do. A watch whose
 * connection drops is resumed by the store client from its last revision; when a watch cannot
 * continue (its revision was compacted, or the client gave it up during an outage), the syncer
 * lists again with backoff, replaces the cache and watches from the new revision, without a
 * restart. During an outage the cache stays as it was: the dataplane built from it is kept, not
 * flushed. Each list and watch batch reaches the listener as the updates it made to the cache (a
 * re-list as the difference between the old cache and the new listing): nothing downstream copies
 * or compares the whole cache.
 */
public final class StoreSyncer implements Syncer {
  private static final Logger LOG = LoggerFactory.getLogger(StoreSyncer.class);
  private static final Duration MIN_BACKOFF = Duration.ofMillis(200);
  private static final Duration MAX_BACKOFF = Duration.ofSeconds(10);
  private final Datastore store;
  private final List<String> prefixes;
  private final Consumer<UpdateBatch> listener;
  private final Map<String, Entry> cache = new HashMap<>();
  private final AtomicLong revision = new AtomicLong();
  private final Object relistLock = new Object();
  private volatile boolean synced;

  /** One background re-list at a time: several watches may break at once. */
  private final AtomicBoolean relisting = new AtomicBoolean();

  private final AtomicLong relists = new AtomicLong();

  @Override
  public OptionalLong relists() {
    return OptionalLong.of(relists.get());
  }

  private volatile boolean closed;

  /** Incremented by every (re)list, so events of a replaced watch are recognised and dropped. */
  private long generation;

  private AutoCloseable watch;

  public StoreSyncer(Datastore store, List<String> prefixes, Consumer<UpdateBatch> listener) {
    this.store = store;
    this.prefixes = List.copyOf(prefixes);
    this.listener = listener;
  }

  /** Lists and watches; if the store does not answer, keeps trying in the background. */
  @Override
  public void start() {
    try {
      relist("start");
    } catch (DatastoreUnavailableException e) {
      LOG.warn("event=datastore-unreachable during=start error=\"{}\"", e.getMessage());
      relistInBackground("start");
    }
  }

  /**
   * Lists everything again and watches from the new revision: after the store came back, or when a
   * watch could not continue. Runs on the caller's thread; throws if the store does not answer.
   */
  public void relist(String why) {
    synchronized (relistLock) {
      Listing all = store.list("");
      if (!why.equals("start")) {
        relists.incrementAndGet();
      }
      long gen;
      synchronized (this) {
        gen = ++generation;
        Map<String, Entry> fresh = new HashMap<>();
        for (Entry e : all.entries()) {
          if (wanted(e.key())) {
            fresh.put(e.key(), e);
          }
        }
        List<ResourceUpdate> updates = new ArrayList<>();
        for (Entry e : fresh.values()) {
          Entry before = cache.get(e.key());
          if (before == null || before.modRevision() != e.modRevision()) {
            updates.add(
                ResourceUpdate.of(
                    e.key(),
                    Optional.ofNullable(before).map(Entry::value),
                    Optional.of(e.value()),
                    e.modRevision()));
          }
        }
        for (Entry gone : cache.values()) {
          if (!fresh.containsKey(gone.key())) {
            updates.add(
                ResourceUpdate.of(
                    gone.key(), Optional.of(gone.value()), Optional.empty(), all.revision()));
          }
        }
        cache.clear();
        cache.putAll(fresh);
        revision.set(Math.max(revision.get(), all.revision()));
        // The listing goes on before the watch starts: a store may hand a new watch the events it
        // missed on this thread, inside watch() (the journal does), and the listener must see
        // them after the listing. The other way round, an update buffer merged a key's listed
        // value with its next change into "no change" and dropped the key.
        listener.accept(new UpdateBatch(updates, revision.get(), true));
        closeWatch();
        watch =
            store.watch(
                "",
                all.revision(),
                events -> apply(gen, events),
                broken -> {
                  LOG.warn(
                      "event=watch-broken compacted={} error=\"{}\"",
                      broken.compacted(),
                      broken.getMessage());
                  relistInBackground(broken.compacted() ? "compacted" : "watch-ended");
                });
        // Inside the lock: batches reach the listener in the order they changed the cache. After
        // the listing: whoever sees it synced finds the listing handed on.
        synced = true;
      }
      LOG.info(
          "event=synced reason={} revision={} resources={}",
          why,
          all.revision(),
          all.entries().size());
    }
  }

  /** Retries {@link #relist} with exponential backoff until it succeeds or the syncer closes. */
  private void relistInBackground(String why) {
    synced = false;
    if (!relisting.compareAndSet(false, true)) {
      return;
    }
    Thread.ofPlatform()
        .daemon()
        .name("syncer-relist")
        .start(
            () -> {
              Duration backoff = MIN_BACKOFF;
              while (!closed) {
                try {
                  relisting.set(false);
                  relist(why);
                  return;
                } catch (DatastoreUnavailableException e) {
                  relisting.set(true);
                  LOG.warn(
                      "event=relist-failed retry_ms={} error=\"{}\"",
                      backoff.toMillis(),
                      e.getMessage());
                }
                try {
                  Thread.sleep(backoff);
                } catch (InterruptedException e) {
                  return;
                }
                backoff = backoff.multipliedBy(2);
                if (backoff.compareTo(MAX_BACKOFF) > 0) {
                  backoff = MAX_BACKOFF;
                }
              }
            });
  }

  private void apply(long gen, List<Event> events) {
    synchronized (this) {
      if (gen != generation) {
        return;
      }
      List<ResourceUpdate> updates = new ArrayList<>();
      for (Event ev : events) {
        String key = ev.entry().key();
        if (wanted(key)) {
          Entry before =
              ev.type() == Event.Type.PUT ? cache.put(key, ev.entry()) : cache.remove(key);
          Optional<JsonNode> now =
              ev.type() == Event.Type.PUT ? Optional.of(ev.entry().value()) : Optional.empty();
          if (before != null || now.isPresent()) {
            updates.add(
                ResourceUpdate.of(
                    key, Optional.ofNullable(before).map(Entry::value), now, ev.revision()));
          }
        }
        revision.set(Math.max(revision.get(), ev.revision()));
      }
      // Every batch is handed on, even one of keys not followed: it moves the revision.
      listener.accept(new UpdateBatch(updates, revision.get(), false));
    }
  }

  private boolean wanted(String key) {
    for (String p : prefixes) {
      if (key.startsWith(p)) {
        return true;
      }
    }
    return false;
  }

  /** The store revision the cache reflects. */
  @Override
  public long revision() {
    return revision.get();
  }

  @Override
  public boolean synced() {
    return synced;
  }

  /** The store's own revision, which every write moves, CNI calls of this process included. */
  @Override
  public boolean unchangedSince(long revision) {
    try {
      return store.currentRevision() == revision;
    } catch (DatastoreUnavailableException e) {
      return false;
    }
  }

  @Override
  public void checkReachable() {
    store.currentRevision();
  }

  private void closeWatch() {
    try {
      if (watch != null) {
        watch.close();
      }
    } catch (Exception e) {
      LOG.debug("event=watch-close-failed error=\"{}\"", Objects.toString(e.getMessage()));
    }
    watch = null;
  }

  @Override
  public void close() {
    closed = true;
    synchronized (this) {
      closeWatch();
    }
  }
}
