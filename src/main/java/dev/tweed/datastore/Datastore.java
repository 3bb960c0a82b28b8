package dev.tweed.datastore;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * A key-value store of resources with etcd's semantics: a global revision, list at a revision,
 * watch from a revision, and compare-and-swap writes.
 */
public interface Datastore extends AutoCloseable {
  /** Matches any current state: the write is unconditional. */
  long ANY = -1;

  /** Matches an absent key: the write creates. */
  long ABSENT = 0;

  Listing list(String prefix);

  /** The store's latest revision. */
  long currentRevision();

  Optional<Entry> get(String key);

  /**
   * Writes {@code value} if the key's mod revision equals {@code expectedModRevision} ({@link
   * #ABSENT} for create, {@link #ANY} for unconditional); returns the new revision.
   */
  long put(String key, JsonNode value, long expectedModRevision) throws ConflictException;

  /** One conditional write of {@link #putAll}. */
  record Put(String key, JsonNode value, long expectedModRevision) {}

  /**
   * Writes every one of {@code puts} if each key's mod revision is the one expected, or none of
   * them ({@link ConflictException} names a key that had moved); returns the revision of the last
   * write. The default writes them one after the other, which is what a store without multi-key
   * transactions can offer: it stops at the first conflict, with the writes before it made.
   */
  default long putAll(List<Put> puts) throws ConflictException {
    long revision = 0;
    for (Put p : puts) {
      revision = put(p.key(), p.value(), p.expectedModRevision());
    }
    return revision;
  }

  /** Deletes if present and matching; returns the revision, or 0 when there was nothing. */
  long delete(String key, long expectedModRevision) throws ConflictException;

  /**
   * Delivers, in order, every change under {@code prefix} after {@code afterRevision}, batched;
   * stops when the returned handle is closed. A store that loses its connection resumes the watch
   * by itself; a watch that cannot continue (its revision was compacted) calls {@code onBroken}
   * once and delivers nothing more.
   */
  AutoCloseable watch(
      String prefix,
      long afterRevision,
      Consumer<List<Event>> onEvents,
      Consumer<WatchBrokenException> onBroken);

  /** A watch whose end is only logged: for callers that re-list on their own schedule. */
  default AutoCloseable watch(String prefix, long afterRevision, Consumer<List<Event>> onEvents) {
    return watch(
        prefix,
        afterRevision,
        onEvents,
        broken ->
            org.slf4j.LoggerFactory.getLogger(Datastore.class)
                .warn("event=watch-broken prefix={} error=\"{}\"", prefix, broken.getMessage()));
  }

  default long put(String key, JsonNode value) {
    try {
      return put(key, value, ANY);
    } catch (ConflictException e) {
      throw new IllegalStateException("unconditional write conflicted", e);
    }
  }

  default long delete(String key) {
    try {
      return delete(key, ANY);
    } catch (ConflictException e) {
      throw new IllegalStateException("unconditional delete conflicted", e);
    }
  }

  @Override
  void close();
}
