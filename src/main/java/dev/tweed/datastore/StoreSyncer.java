package dev.tweed.datastore;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps a cache of the resources under some key prefixes of a {@link Datastore}: one list, then a
 * watch from the list's revision, as Felix's syncer and client-go's reflectors do. A watch whose
 * connection drops is resumed by the store client from its last revision; when a watch cannot
 * continue (its revision was compacted, or the client gave it up during an outage), the syncer
 * lists again with backoff, replaces the cache and watches from the new revision, without a
 * restart. During an outage the cache stays as it was: the dataplane built from it is kept, not
 * flushed.
 */
public final class StoreSyncer implements Syncer {
  private static final Logger LOG = LoggerFactory.getLogger(StoreSyncer.class);
  private static final Duration MIN_BACKOFF = Duration.ofMillis(200);
  private static final Duration MAX_BACKOFF = Duration.ofSeconds(10);
  private final Datastore store;
  private final List<String> prefixes;
  private final Runnable onChange;
  private final Map<String, Entry> cache = new HashMap<>();
  private final AtomicLong revision = new AtomicLong();
  private final Object relistLock = new Object();
  private volatile boolean synced;

  /** One background re-list at a time: several watches may break at once. */
  private final AtomicBoolean relisting = new AtomicBoolean();

  private final java.util.concurrent.atomic.AtomicLong relists =
      new java.util.concurrent.atomic.AtomicLong();

  @Override
  public java.util.OptionalLong relists() {
    return java.util.OptionalLong.of(relists.get());
  }

  private volatile boolean closed;

  /** Incremented by every (re)list, so events of a replaced watch are recognised and dropped. */
  private long generation;

  private AutoCloseable watch;

  public StoreSyncer(Datastore store, List<String> prefixes, Runnable onChange) {
    this.store = store;
    this.prefixes = List.copyOf(prefixes);
    this.onChange = onChange;
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
      boolean changed;
      synchronized (this) {
        gen = ++generation;
        Map<String, Entry> fresh = new HashMap<>();
        for (Entry e : all.entries()) {
          if (wanted(e.key())) {
            fresh.put(e.key(), e);
          }
        }
        changed = !fresh.equals(cache) || revision.get() == 0;
        cache.clear();
        cache.putAll(fresh);
        revision.set(Math.max(revision.get(), all.revision()));
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
      }
      synced = true;
      LOG.info(
          "event=synced reason={} revision={} resources={}",
          why,
          all.revision(),
          all.entries().size());
      if (changed) {
        onChange.run();
      }
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
    boolean changed = false;
    synchronized (this) {
      if (gen != generation) {
        return;
      }
      for (Event ev : events) {
        if (wanted(ev.entry().key())) {
          changed = true;
          if (ev.type() == Event.Type.PUT) {
            cache.put(ev.entry().key(), ev.entry());
          } else {
            cache.remove(ev.entry().key());
          }
        }
        revision.set(Math.max(revision.get(), ev.revision()));
      }
    }
    if (changed) {
      onChange.run();
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
  public synchronized Map<String, Entry> snapshot() {
    return Map.copyOf(cache);
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
