package dev.tweed.datastore;

/** One change seen by a watch; for a delete, {@code entry} holds the last value. */
public record Event(Type type, Entry entry, long revision) {
  public enum Type {
    PUT,
    DELETE
  }
}
