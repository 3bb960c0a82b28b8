package dev.tweed.cni;

import java.util.List;

/** The spec versions Tweed speaks. */
public final class CniVersions {
  public static final List<String> SUPPORTED = List.of("0.4.0", "1.0.0", "1.1.0");
  public static final String LATEST = "1.1.0";

  private CniVersions() {}

  public static boolean supports(String v, CniCommand c) {
    if (!SUPPORTED.contains(v)) {
      return false;
    }
    // STATUS and GC arrived in 1.1.0.
    return (c != CniCommand.STATUS && c != CniCommand.GC) || v.equals("1.1.0");
  }
}
