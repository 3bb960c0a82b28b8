package dev.tweed.kernel;

/**
 * A socket listening (TCP) or bound (UDP) in the namespace, as {@code ss -Hlntu} prints it: on one
 * address, or on any address of IPv4 ({@code 0.0.0.0}), of IPv6 ({@code ::}) or of both.
 */
public record Listener(String proto, String address, int port) {
  public boolean accepts(String dstIp, String p, int dport) {
    boolean v6 = dstIp.indexOf(':') >= 0;
    return proto.equals(p)
        && port == dport
        && (address.equals(v6 ? "::" : "0.0.0.0") || address.equals("*") || address.equals(dstIp));
  }
}
