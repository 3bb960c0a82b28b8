package dev.tweed.datastore;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tweed.model.Json;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

/**
 * The embedded datastore: an append-only journal of JSON lines in one directory, shared by every
 * process of a lab (agents, CNI calls, the lab's controllers, the CLI).
 *
 * <p>Writers serialise on an exclusive lock of the journal file, catch up with the journal, check
 * their compare-and-swap condition and append one fsynced line; a write is durable once it returns.
 * Readers replay the journal into memory and follow its growth, which gives list at a revision and
 * watch from a revision without a server process. The journal is never compacted: a lab's history
 * stays small (see the README's limits).
 */
public final class JournalDatastore implements Datastore {
  private static final long POLL_MILLIS = 50;

  private final FileChannel journal;

  /**
   * One lock per journal per JVM: file locks exclude other processes, but the JVM refuses a second
   * lock on a file it already locks, so instances on one directory share this.
   */
  private static final ConcurrentHashMap<Path, ReentrantLock> LOCKS = new ConcurrentHashMap<>();

  private final ReentrantLock lock;
  private final TreeMap<String, Entry> state = new TreeMap<>();
  private final List<Event> history = new ArrayList<>();
  private final List<Watcher> watchers = new CopyOnWriteArrayList<>();
  private final Thread follower;
  private long revision;
  private long offset;
  private volatile boolean closed;

  private record Watcher(String prefix, long[] delivered, Consumer<List<Event>> sink) {}

  public JournalDatastore(Path dir) {
    try {
      Files.createDirectories(dir);
      journal =
          FileChannel.open(
              dir.resolve("journal.jsonl"),
              StandardOpenOption.CREATE,
              StandardOpenOption.READ,
              StandardOpenOption.WRITE);
      lock = LOCKS.computeIfAbsent(dir.toRealPath(), d -> new ReentrantLock());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open datastore in " + dir, e);
    }
    catchUp();
    follower = Thread.ofPlatform().daemon().name("datastore-follow").start(this::follow);
  }

  @Override
  public Listing list(String prefix) {
    lock.lock();
    try {
      catchUp();
      List<Entry> out = new ArrayList<>();
      for (Map.Entry<String, Entry> e : state.tailMap(prefix, true).entrySet()) {
        if (!e.getKey().startsWith(prefix)) {
          break;
        }
        out.add(e.getValue());
      }
      return new Listing(List.copyOf(out), revision);
    } finally {
      lock.unlock();
    }
  }

  @Override
  public long currentRevision() {
    lock.lock();
    try {
      catchUp();
      return revision;
    } finally {
      lock.unlock();
    }
  }

  @Override
  public Optional<Entry> get(String key) {
    lock.lock();
    try {
      catchUp();
      return Optional.ofNullable(state.get(key));
    } finally {
      lock.unlock();
    }
  }

  @Override
  public long put(String key, JsonNode value, long expectedModRevision) throws ConflictException {
    return write(key, Optional.of(value), expectedModRevision);
  }

  @Override
  public long delete(String key, long expectedModRevision) throws ConflictException {
    return write(key, Optional.empty(), expectedModRevision);
  }

  private long write(String key, Optional<JsonNode> value, long expected) throws ConflictException {
    lock.lock();
    try (FileLock ignored = journal.lock()) {
      catchUp();
      Entry current = state.get(key);
      long actual = current == null ? 0 : current.modRevision();
      if (expected != ANY && expected != actual) {
        throw new ConflictException(key, expected, actual);
      }
      if (value.isEmpty() && current == null) {
        return 0;
      }
      ObjectNode line = Json.object();
      line.put("rev", revision + 1);
      line.put("key", key);
      value.ifPresent(v -> line.set("value", v));
      byte[] bytes = (Json.write(line) + "\n").getBytes(StandardCharsets.UTF_8);
      long end = journal.size();
      journal.write(ByteBuffer.wrap(bytes), end);
      journal.force(false);
      catchUp();
      return revision;
    } catch (IOException e) {
      throw new UncheckedIOException("datastore write failed for " + key, e);
    } finally {
      lock.unlock();
    }
  }

  /** Reads complete lines appended since the last read; callers hold {@code lock}. */
  private void catchUp() {
    try {
      long size = journal.size();
      if (size <= offset) {
        return;
      }
      ByteBuffer buf = ByteBuffer.allocate((int) (size - offset));
      while (buf.hasRemaining()) {
        if (journal.read(buf, offset + buf.position()) < 0) {
          break;
        }
      }
      byte[] data = buf.array();
      int start = 0;
      for (int i = 0; i < buf.position(); i++) {
        if (data[i] == '\n') {
          apply(new String(data, start, i - start, StandardCharsets.UTF_8));
          start = i + 1;
        }
      }
      // A line without its newline is still being written: read it again next time.
      offset += start;
    } catch (IOException e) {
      throw new UncheckedIOException("datastore read failed", e);
    }
  }

  private void apply(String line) {
    JsonNode n = Json.parse(line);
    long rev = n.get("rev").asLong();
    String key = n.get("key").asText();
    Entry prev = state.get(key);
    Event event;
    if (n.hasNonNull("value")) {
      Entry e = new Entry(key, n.get("value"), prev == null ? rev : prev.createRevision(), rev);
      state.put(key, e);
      event = new Event(Event.Type.PUT, e, rev);
    } else {
      state.remove(key);
      event = new Event(Event.Type.DELETE, prev, rev);
    }
    revision = rev;
    history.add(event);
  }

  /** The journal keeps its whole history, so its watches never break. */
  @Override
  public AutoCloseable watch(
      String prefix,
      long afterRevision,
      Consumer<List<Event>> onEvents,
      Consumer<WatchBrokenException> onBroken) {
    Watcher w = new Watcher(prefix, new long[] {afterRevision}, onEvents);
    watchers.add(w);
    deliver();
    return () -> watchers.remove(w);
  }

  private void follow() {
    while (!closed) {
      try {
        Thread.sleep(POLL_MILLIS);
        lock.lock();
        try {
          catchUp();
        } finally {
          lock.unlock();
        }
        deliver();
      } catch (InterruptedException e) {
        return;
      } catch (RuntimeException e) {
        org.slf4j.LoggerFactory.getLogger(JournalDatastore.class)
            .warn("event=datastore-follow-failed error=\"{}\"", e.toString());
      }
    }
  }

  /** Hands each watcher the events it has not seen; one delivering thread keeps them in order. */
  private synchronized void deliver() {
    for (Watcher w : watchers) {
      List<Event> batch = new ArrayList<>();
      lock.lock();
      try {
        int from = firstIndexAfter(w.delivered()[0]);
        for (int i = from; i < history.size(); i++) {
          Event e = history.get(i);
          if (e.entry().key().startsWith(w.prefix())) {
            batch.add(e);
          }
        }
        w.delivered()[0] = revision;
      } finally {
        lock.unlock();
      }
      if (!batch.isEmpty()) {
        w.sink().accept(List.copyOf(batch));
      }
    }
  }

  private int firstIndexAfter(long rev) {
    int lo = 0;
    int hi = history.size();
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      if (history.get(mid).revision() <= rev) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }

  @Override
  public void close() {
    closed = true;
    follower.interrupt();
    try {
      journal.close();
    } catch (IOException ignored) {
      // Closing a read/write channel on shutdown: nothing left to save.
    }
  }
}
