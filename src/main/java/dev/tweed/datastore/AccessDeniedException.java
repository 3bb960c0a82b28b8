package dev.tweed.datastore;

/**
 * The datastore refused a call for who made it (etcd's permission denied): no retry helps, unlike
 * {@link DatastoreUnavailableException}.
 */
public final class AccessDeniedException extends RuntimeException {
  public AccessDeniedException(String what, Throwable cause) {
    super(what + ": the datastore denied it to this client (" + cause.getMessage() + ")", cause);
  }
}
