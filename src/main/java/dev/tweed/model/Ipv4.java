package dev.tweed.model;

/** IPv4 address arithmetic on ints; the calc graph and IPAM stay free of java.net lookups. */
public final class Ipv4 {
  private Ipv4() {}

  public static int parse(String dotted) {
    String[] p = dotted.split("\\.", -1);
    if (p.length != 4) {
      throw new IllegalArgumentException("not an IPv4 address: " + dotted);
    }
    int v = 0;
    for (String s : p) {
      int o;
      try {
        o = Integer.parseInt(s);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("not an IPv4 address: " + dotted);
      }
      if (o < 0 || o > 255 || s.isEmpty() || (s.length() > 1 && s.startsWith("0"))) {
        throw new IllegalArgumentException("not an IPv4 address: " + dotted);
      }
      v = (v << 8) | o;
    }
    return v;
  }

  public static String format(int v) {
    return ((v >>> 24) & 255)
        + "."
        + ((v >>> 16) & 255)
        + "."
        + ((v >>> 8) & 255)
        + "."
        + (v & 255);
  }
}
