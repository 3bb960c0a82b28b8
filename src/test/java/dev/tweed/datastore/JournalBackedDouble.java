package dev.tweed.datastore;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * The base of test doubles for what a journal never does (a broken watch, a store that does not
 * answer): every call goes to a real {@link JournalDatastore} unless the double overrides it.
 */
public abstract class JournalBackedDouble implements Datastore {
  protected final JournalDatastore journal;

  protected JournalBackedDouble(JournalDatastore journal) {
    this.journal = journal;
  }

  @Override
  public AutoCloseable watch(
      String prefix,
      long afterRevision,
      Consumer<List<Event>> onEvents,
      Consumer<WatchBrokenException> onBroken) {
    return journal.watch(prefix, afterRevision, onEvents, onBroken);
  }

  @Override
  public Listing list(String prefix) {
    return journal.list(prefix);
  }

  @Override
  public long currentRevision() {
    return journal.currentRevision();
  }

  @Override
  public Optional<Entry> get(String key) {
    return journal.get(key);
  }

  @Override
  public long put(String key, JsonNode value, long expected) throws ConflictException {
    return journal.put(key, value, expected);
  }

  @Override
  public long delete(String key, long expected) throws ConflictException {
    return journal.delete(key, expected);
  }

  @Override
  public void close() {
    journal.close();
  }
}
