package dev.tweed.datastore;

/**
 * A watch ended for good and will deliver nothing more: its start revision was compacted away
 * ({@link #compacted()}), or the store cancelled it. The watcher lists again and watches from the
 * new listing's revision, as client-go's reflector does after a 410 Gone.
 */
public final class WatchBrokenException extends RuntimeException {
  private final boolean compacted;

  public WatchBrokenException(String message, boolean compacted, Throwable cause) {
    super(message, cause);
    this.compacted = compacted;
  }

  public boolean compacted() {
    return compacted;
  }
}
