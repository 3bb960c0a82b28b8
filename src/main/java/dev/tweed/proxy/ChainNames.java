package dev.tweed.proxy;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import org.apache.commons.codec.binary.Base32;

/**
 * kube-proxy's chain names: the first 16 characters of the base32 (RFC 4648) SHA-256 of the service
 * port name and lower-case protocol (plus the endpoint for KUBE-SEP-), so that a node programmed by
 * Tweed reads like one programmed by kube-proxy.
 */
public final class ChainNames {
  private static final Base32 BASE32 = new Base32();

  private ChainNames() {}

  static String hash(String input) {
    try {
      byte[] sum =
          MessageDigest.getInstance("SHA-256").digest(input.getBytes(StandardCharsets.UTF_8));
      return BASE32.encodeAsString(sum).substring(0, 16);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  public static String serviceCluster(ServicePort p) {
    return "KUBE-SVC-" + hash(p.portNameString() + p.protocolLower());
  }

  public static String serviceLocal(ServicePort p) {
    return "KUBE-SVL-" + hash(p.portNameString() + p.protocolLower());
  }

  public static String external(ServicePort p) {
    return "KUBE-EXT-" + hash(p.portNameString() + p.protocolLower());
  }

  public static String firewall(ServicePort p) {
    return "KUBE-FW-" + hash(p.portNameString() + p.protocolLower());
  }

  public static String endpoint(ServicePort p, ServicePort.Endpoint ep) {
    return "KUBE-SEP-" + hash(p.portNameString() + p.protocolLower() + ep);
  }
}
