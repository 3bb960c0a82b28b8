package dev.tweed.datastore;

/**
 * The datastore did not answer in time (every etcd member down or unreachable, an API server gone).
 * Callers keep what they have and try again later; the CNI plugin turns it into "try again later"
 * instead of letting a runtime wait.
 */
public final class DatastoreUnavailableException extends RuntimeException {
  public DatastoreUnavailableException(String what, Throwable cause) {
    super("datastore unreachable: " + what + " (" + rootMessage(cause) + ")", cause);
  }

  private static String rootMessage(Throwable t) {
    Throwable c = t;
    while (c.getCause() != null && c.getCause() != c) {
      c = c.getCause();
    }
    return c.getMessage() == null ? c.getClass().getSimpleName() : c.getMessage();
  }
}
