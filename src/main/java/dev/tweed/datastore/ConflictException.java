package dev.tweed.datastore;

/** A compare-and-swap write whose expected revision no longer holds. */
public final class ConflictException extends Exception {
  public ConflictException(String key, long expected, long actual) {
    super("conflict on " + key + ": expected revision " + expected + ", found " + actual);
  }
}
