package dev.tweed.policy;

/** A NetworkPolicy that Kubernetes' API server would reject; names the offending field. */
public final class InvalidPolicyException extends Exception {
  private final String field;

  public InvalidPolicyException(String field, String problem) {
    super(problem);
    this.field = field;
  }

  public String field() {
    return field;
  }
}
