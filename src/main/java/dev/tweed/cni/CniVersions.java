package dev.tweed.cni;

import java.util.List;

/**
 * The spec versions Tweed speaks, and which commands each has. 0.3.x is what most conflists in the
 * wild still name (Calico's, Flannel's and Cilium's manifests); CHECK arrived in 0.4.0, STATUS and
 * GC in 1.1.0.
 */
public final class CniVersions {
  public static final List<String> SUPPORTED = List.of("0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0");
  public static final String LATEST = "1.1.0";

  /**
   * The version Tweed's own configurations (the lab, {@code deploy/}) name: the newest that the
   * runtimes in use accept for results. podman 4.3's CNI library rejects 1.1.0 results, while every
   * libcni since 1.0 (containerd 1.6+, CRI-O, podman) takes 1.0.0.
   */
  public static final String CONFIGURED = "1.0.0";

  private CniVersions() {}

  public static boolean supports(String v, CniCommand c) {
    if (!SUPPORTED.contains(v)) {
      return false;
    }
    return switch (c) {
      case STATUS, GC -> v.equals("1.1.0");
      case CHECK -> !isPre04(v);
      case ADD, DEL, VERSION -> true;
    };
  }

  /** Results before 1.0.0 tag each IP with its family ({@code "version": "4"}). */
  public static boolean tagsIpVersion(String v) {
    return v.startsWith("0.");
  }

  private static boolean isPre04(String v) {
    return v.startsWith("0.3.");
  }
}
