package dev.tweed.cni;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tweed.model.Json;

/** A failure reported to the runtime as the spec's error result, with its well-known code. */
public final class CniException extends Exception {
  public static final int INCOMPATIBLE_VERSION = 1;
  public static final int UNSUPPORTED_FIELD = 2;
  public static final int UNKNOWN_CONTAINER = 3;
  public static final int INVALID_ENV = 4;
  public static final int IO_FAILURE = 5;
  public static final int DECODE_FAILURE = 6;
  public static final int INVALID_CONFIG = 7;
  public static final int TRY_AGAIN_LATER = 11;
  public static final int NOT_AVAILABLE = 50;

  /** Plugin-specific codes start at 100, as the spec reserves 0-99. */
  public static final int IPAM_EXHAUSTED = 100;

  public static final int CHECK_FAILED = 101;
  public static final int DATAPLANE_FAILURE = 102;

  private final int code;
  private final String details;

  public CniException(int code, String msg) {
    this(code, msg, "");
  }

  public CniException(int code, String msg, String details) {
    super(msg);
    this.code = code;
    this.details = details;
  }

  public int code() {
    return code;
  }

  public String details() {
    return details;
  }

  public ObjectNode toJson(String cniVersion) {
    ObjectNode n = Json.object();
    n.put("cniVersion", cniVersion);
    n.put("code", code);
    n.put("msg", getMessage());
    if (!details.isEmpty()) {
      n.put("details", details);
    }
    return n;
  }
}
