package dev.tweed.datastore;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Keeps a cache of the resources under some key prefixes: one list, then a watch from the list's
 * revision, as Felix's syncer and client-go's informers do. Tells its listener after each batch of
 * changes.
 */
public final class Syncer implements AutoCloseable {
  private final Datastore store;
  private final List<String> prefixes;
  private final Runnable onChange;
  private final TreeMap<String, Entry> cache = new TreeMap<>();
  private final AtomicLong revision = new AtomicLong();
  private AutoCloseable watch;

  public Syncer(Datastore store, List<String> prefixes, Runnable onChange) {
    this.store = store;
    this.prefixes = List.copyOf(prefixes);
    this.onChange = onChange;
  }

  public void start() {
    Listing all = store.list("");
    synchronized (this) {
      for (Entry e : all.entries()) {
        if (wanted(e.key())) {
          cache.put(e.key(), e);
        }
      }
      revision.set(all.revision());
    }
    watch = store.watch("", all.revision(), this::apply);
    onChange.run();
  }

  private void apply(List<Event> events) {
    boolean changed = false;
    synchronized (this) {
      for (Event ev : events) {
        if (wanted(ev.entry().key())) {
          changed = true;
          if (ev.type() == Event.Type.PUT) {
            cache.put(ev.entry().key(), ev.entry());
          } else {
            cache.remove(ev.entry().key());
          }
        }
        revision.set(ev.revision());
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

  /** The revision the cache reflects. */
  public long revision() {
    return revision.get();
  }

  /** A consistent copy of the cache. */
  public synchronized Map<String, Entry> snapshot() {
    return Map.copyOf(cache);
  }

  @Override
  public void close() {
    try {
      if (watch != null) {
        watch.close();
      }
    } catch (Exception ignored) {
      // Closing a local watch does not fail.
    }
  }
}
