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
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

/**
 * The embedded datastore: an append-only journal of JSON lines in one directory, shared by every
 * process of a lab (agents, CNI calls, the lab's controllers, the CLI).
 *
 * <p>Writers serialise on an exclusive lock of {@code journal.lock}, catch up with the journal,
 * check their compare-and-swap condition and append one fsynced line; a write is durable once it
 * returns. Readers replay the journal into memory and follow its growth, which gives list at a
 * revision and watch from a revision without a server process.
 *
 * <p>The journal is compacted as etcd compacts its history: once it holds {@code compactAfter}
 * records and more than twice as many as there are live keys, the writer holding the lock writes a
 * new journal, a snapshot of every key at the current revision (with its create and mod revisions)
 * and nothing else, and renames it over the old one. Revisions go on from where they were. Readers
 * keep reading the old file, whole up to the snapshot's revision, and move to the new one when they
 * see it replaced (by its file key), carrying on from their own revision; a reader that was behind
 * the snapshot loads it. A watch that needs events from before the compaction is told so ({@link
 * WatchBrokenException#compacted()}), as etcd tells a client.
 */
public final class JournalDatastore implements Datastore {
  /**
   * How often a follower reads the journal's end without being told it grew: every 50 ms when the
   * kernel cannot tell it (no inotify instance left), otherwise once a second as a safety net.
   */
  private static final long POLL_MILLIS = 50;

  private static final long NOTIFIED_POLL_MILLIS = 1_000;

  /** Records before the journal is compacted (and more than twice the live keys). */
  public static final int DEFAULT_COMPACT_AFTER = 10_000;

  private final Path path;
  private final FileChannel lockFile;
  private final int compactAfter;
  private FileChannel journal;
  private Object fileKey;

  /** Records in the current file after its snapshot. */
  private long records;

  /** Every event after this revision is in {@link #history}; earlier ones were compacted. */
  private long historyFrom;

  /** Whether this reader is loading a compacted journal's snapshot (it was behind it). */
  private boolean loading;

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

  private record Watcher(
      String prefix,
      long[] delivered,
      Consumer<List<Event>> sink,
      Consumer<WatchBrokenException> broken) {}

  public JournalDatastore(Path dir) {
    this(dir, DEFAULT_COMPACT_AFTER);
  }

  /** With compaction after {@code compactAfter} records ({@link Integer#MAX_VALUE}: never). */
  public JournalDatastore(Path dir, int compactAfter) {
    this.compactAfter = compactAfter;
    this.path = dir.resolve("journal.jsonl");
    try {
      Files.createDirectories(dir);
      lockFile =
          FileChannel.open(
              dir.resolve("journal.lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
      openJournal();
      lock = LOCKS.computeIfAbsent(dir.toRealPath(), d -> new ReentrantLock());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open datastore in " + dir, e);
    }
    lock.lock();
    try {
      catchUp();
    } finally {
      lock.unlock();
    }
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
    try (FileLock ignored = lockFile.lock()) {
      catchUp();
      Entry current = state.get(key);
      check(key, expected);
      if (value.isEmpty() && current == null) {
        return 0;
      }
      return append(List.of(record(revision + 1, key, value)));
    } catch (IOException e) {
      throw new UncheckedIOException("datastore write failed for " + key, e);
    } finally {
      lock.unlock();
    }
  }

  /**
   * Every condition checked under the lock, then one append of a record per key (each its own
   * revision, as consecutive writes would have) and one fsync for them all.
   */
  @Override
  public long putAll(List<Put> puts) throws ConflictException {
    lock.lock();
    try (FileLock ignored = lockFile.lock()) {
      catchUp();
      for (Put p : puts) {
        check(p.key(), p.expectedModRevision());
      }
      List<ObjectNode> records = new ArrayList<>();
      for (Put p : puts) {
        records.add(record(revision + 1 + records.size(), p.key(), Optional.of(p.value())));
      }
      return append(records);
    } catch (IOException e) {
      throw new UncheckedIOException("datastore write failed for " + puts.size() + " keys", e);
    } finally {
      lock.unlock();
    }
  }

  private void check(String key, long expected) throws ConflictException {
    Entry current = state.get(key);
    long actual = current == null ? 0 : current.modRevision();
    if (expected != ANY && expected != actual) {
      throw new ConflictException(key, expected, actual);
    }
  }

  private static ObjectNode record(long rev, String key, Optional<JsonNode> value) {
    ObjectNode line = Json.object();
    line.put("rev", rev);
    line.put("key", key);
    value.ifPresent(v -> line.set("value", v));
    return line;
  }

  /** Under both locks: the records written in one go, made durable, read back. */
  private long append(List<ObjectNode> records) throws IOException {
    StringBuilder text = new StringBuilder();
    records.forEach(r -> text.append(Json.write(r)).append('\n'));
    byte[] bytes = text.toString().getBytes(StandardCharsets.UTF_8);
    long end = journal.size();
    journal.write(ByteBuffer.wrap(bytes), end);
    journal.force(false);
    catchUp();
    if (this.records >= compactAfter && this.records > 2L * state.size()) {
      compact();
    }
    return revision;
  }

  private void openJournal() throws IOException {
    journal =
        FileChannel.open(
            path, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
    fileKey = Files.readAttributes(path, BasicFileAttributes.class).fileKey();
    offset = 0;
  }

  /**
   * Reads complete lines appended since the last read, and moves to a compacted journal when one
   * replaced the file; callers hold {@code lock}.
   */
  private void catchUp() {
    try {
      readNewLines();
      if (!Files.readAttributes(path, BasicFileAttributes.class).fileKey().equals(fileKey)) {
        // Compacted by another writer: the old file is whole up to the new one's snapshot.
        journal.close();
        openJournal();
        readNewLines();
      }
    } catch (IOException e) {
      throw new UncheckedIOException("datastore read failed", e);
    }
  }

  private void readNewLines() throws IOException {
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
  }

  private void apply(String line) {
    JsonNode n = Json.parse(line);
    if (n.has("compacted")) {
      long at = n.get("compacted").asLong();
      records = 0;
      loading = revision < at;
      if (loading) {
        state.clear();
        revision = at;
      }
      forgetBefore(at);
      return;
    }
    if (n.has("snapshot")) {
      if (loading) {
        JsonNode e = n.get("snapshot");
        String key = e.get("key").asText();
        state.put(
            key, new Entry(key, e.get("value"), e.get("create").asLong(), e.get("mod").asLong()));
      }
      return;
    }
    long rev = n.get("rev").asLong();
    records++;
    if (rev <= revision) {
      // Already applied: a reader that moved to a compacted journal skips what it had read.
      return;
    }
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

  /**
   * The journal was compacted at {@code at}. A reader that was behind it lost the events in
   * between: its history starts there. Otherwise the in-memory history is trimmed to {@code at}
   * too, but for what this instance's watchers have yet to receive.
   */
  private void forgetBefore(long at) {
    if (loading) {
      history.clear();
      historyFrom = at;
      return;
    }
    long keep = at;
    for (Watcher w : watchers) {
      keep = Math.min(keep, w.delivered()[0]);
    }
    keep = Math.max(keep, historyFrom);
    history.subList(0, firstIndexAfter(keep)).clear();
    historyFrom = keep;
  }

  /**
   * Writes the compacted journal and renames it over the old one; callers hold {@code lock} and the
   * file lock, and have caught up. The newest half of the records stay as they were, after a
   * snapshot of the keys at the revision before them: a reader less than that far behind goes on
   * without noticing.
   */
  private void compact() throws IOException {
    List<String> lines = new ArrayList<>();
    ByteBuffer all = ByteBuffer.allocate((int) journal.size());
    while (all.hasRemaining() && journal.read(all, all.position()) >= 0) {
      // read the whole file
    }
    String text = new String(all.array(), 0, all.position(), StandardCharsets.UTF_8);
    for (String line : text.split("\n")) {
      if (!line.isBlank()) {
        lines.add(line);
      }
    }
    long keepFrom = records - compactAfter / 2;
    TreeMap<String, Entry> snapshot = new TreeMap<>();
    long snapshotRevision = 0;
    List<String> tail = new ArrayList<>();
    long index = 0;
    for (String line : lines) {
      JsonNode n = Json.parse(line);
      if (n.has("compacted")) {
        snapshotRevision = n.get("compacted").asLong();
      } else if (n.has("snapshot")) {
        JsonNode e = n.get("snapshot");
        String key = e.get("key").asText();
        snapshot.put(
            key, new Entry(key, e.get("value"), e.get("create").asLong(), e.get("mod").asLong()));
      } else if (index++ < keepFrom) {
        long rev = n.get("rev").asLong();
        String key = n.get("key").asText();
        Entry prev = snapshot.get(key);
        if (n.hasNonNull("value")) {
          snapshot.put(
              key, new Entry(key, n.get("value"), prev == null ? rev : prev.createRevision(), rev));
        } else {
          snapshot.remove(key);
        }
        snapshotRevision = rev;
      } else {
        tail.add(line);
      }
    }
    Path tmp = path.resolveSibling("journal.jsonl.compacting");
    try (FileChannel out =
        FileChannel.open(
            tmp,
            StandardOpenOption.CREATE,
            StandardOpenOption.TRUNCATE_EXISTING,
            StandardOpenOption.WRITE)) {
      StringBuilder sb = new StringBuilder();
      ObjectNode header = Json.object();
      header.put("compacted", snapshotRevision);
      header.put("entries", snapshot.size());
      sb.append(Json.write(header)).append('\n');
      for (Entry e : snapshot.values()) {
        ObjectNode snap = Json.object();
        ObjectNode body = snap.putObject("snapshot");
        body.put("key", e.key());
        body.put("create", e.createRevision());
        body.put("mod", e.modRevision());
        body.set("value", e.value());
        sb.append(Json.write(snap)).append('\n');
      }
      tail.forEach(l -> sb.append(l).append('\n'));
      ByteBuffer b = ByteBuffer.wrap(sb.toString().getBytes(StandardCharsets.UTF_8));
      while (b.hasRemaining()) {
        out.write(b);
      }
      out.force(true);
    }
    Files.move(tmp, path, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    try (FileChannel d = FileChannel.open(path.getParent(), StandardOpenOption.READ)) {
      d.force(true);
    }
    journal.close();
    openJournal();
    readNewLines();
    org.slf4j.LoggerFactory.getLogger(JournalDatastore.class)
        .info(
            "event=journal-compacted snapshot-revision={} keys={} tail={}",
            snapshotRevision,
            snapshot.size(),
            tail.size());
  }

  /** The revision after which every event is still known (0: none was compacted). */
  public long compactedRevision() {
    lock.lock();
    try {
      catchUp();
      return historyFrom;
    } finally {
      lock.unlock();
    }
  }

  /** The journal file's size in bytes. */
  public long journalBytes() {
    lock.lock();
    try {
      catchUp();
      return journal.size();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } finally {
      lock.unlock();
    }
  }

  /**
   * A watch from a revision the journal has compacted away is broken at once ({@link
   * WatchBrokenException#compacted()}): the watcher lists again, as with etcd.
   */
  @Override
  public AutoCloseable watch(
      String prefix,
      long afterRevision,
      Consumer<List<Event>> onEvents,
      Consumer<WatchBrokenException> onBroken) {
    Watcher w = new Watcher(prefix, new long[] {afterRevision}, onEvents, onBroken);
    watchers.add(w);
    deliver();
    return () -> watchers.remove(w);
  }

  /**
   * Follows the journal's growth: woken by inotify when a file of the store's directory is written
   * or replaced (an idle follower costs nothing; polling every 50 ms cost an idle agent half a
   * percent of a core), and by a slow poll regardless.
   */
  private void follow() {
    Optional<WatchService> changes = watchDirectory();
    try {
      while (!closed) {
        try {
          if (changes.isPresent()) {
            WatchKey key = changes.get().poll(NOTIFIED_POLL_MILLIS, TimeUnit.MILLISECONDS);
            if (key != null) {
              key.pollEvents(); // what changed does not matter: the journal is read to its end
              key.reset();
            }
          } else {
            Thread.sleep(POLL_MILLIS);
          }
          lock.lock();
          try {
            catchUp();
          } finally {
            lock.unlock();
          }
          deliver();
        } catch (InterruptedException | ClosedWatchServiceException e) {
          return;
        } catch (RuntimeException e) {
          if (closed) {
            // close() interrupted a read and closed the journal under it: nothing failed.
            return;
          }
          org.slf4j.LoggerFactory.getLogger(JournalDatastore.class)
              .warn("event=datastore-follow-failed error=\"{}\"", e.toString());
        }
      }
    } finally {
      changes.ifPresent(
          w -> {
            try {
              w.close();
            } catch (IOException ignored) {
              // the follower is ending; nothing waits on its notifications
            }
          });
    }
  }

  /** An inotify watch of the store's directory, or empty (then the follower polls). */
  private Optional<WatchService> watchDirectory() {
    try {
      WatchService w = path.getFileSystem().newWatchService();
      path.getParent()
          .register(w, StandardWatchEventKinds.ENTRY_MODIFY, StandardWatchEventKinds.ENTRY_CREATE);
      return Optional.of(w);
    } catch (IOException | UnsupportedOperationException e) {
      org.slf4j.LoggerFactory.getLogger(JournalDatastore.class)
          .info("event=datastore-follow-polling reason=\"{}\"", e.toString());
      return Optional.empty();
    }
  }

  /** Hands each watcher the events it has not seen; one delivering thread keeps them in order. */
  private synchronized void deliver() {
    for (Watcher w : watchers) {
      List<Event> batch = new ArrayList<>();
      long gone = -1;
      lock.lock();
      try {
        if (w.delivered()[0] < historyFrom) {
          gone = historyFrom;
        }
      } finally {
        lock.unlock();
      }
      if (gone >= 0) {
        watchers.remove(w);
        w.broken()
            .accept(
                new WatchBrokenException(
                    "revision "
                        + w.delivered()[0]
                        + " has been compacted: the journal keeps events after "
                        + gone,
                    true,
                    null));
        continue;
      }
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
      lockFile.close();
    } catch (IOException ignored) {
      // Closing a read/write channel on shutdown: nothing left to save.
    }
  }
}
