package dev.tweed.kernel;

/** A socket listening (TCP) or bound (UDP) in the namespace, as {@code ss -Hlntu} prints it. */
public record Listener(String proto, String address, int port) {
  public boolean accepts(String dstIp, String p, int dport) {
    return proto.equals(p)
        && port == dport
        && (address.equals("0.0.0.0") || address.equals("*") || address.equals(dstIp));
  }
}
