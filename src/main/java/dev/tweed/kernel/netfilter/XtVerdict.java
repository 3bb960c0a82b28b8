package dev.tweed.kernel.netfilter;

/** How a table's traversal of a hook ended. */
public enum XtVerdict {
  ACCEPT,
  DROP,
  REJECT,
  /** Internal: a user chain returned (or was left at its end). */
  RETURN
}
