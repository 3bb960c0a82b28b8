package dev.tweed.model;

/** An IPv4 prefix, normalised so that host bits are zero. */
public record Cidr(int base, int prefixLength) implements Comparable<Cidr> {
  public Cidr {
    if (prefixLength < 0 || prefixLength > 32) {
      throw new IllegalArgumentException("prefix length out of range: " + prefixLength);
    }
    base = base & mask(prefixLength);
  }

  public static Cidr parse(String text) {
    int slash = text.indexOf('/');
    if (slash < 0) {
      return new Cidr(Ipv4.parse(text), 32);
    }
    int len;
    try {
      len = Integer.parseInt(text.substring(slash + 1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("not a CIDR: " + text);
    }
    return new Cidr(Ipv4.parse(text.substring(0, slash)), len);
  }

  public static Cidr host(int address) {
    return new Cidr(address, 32);
  }

  static int mask(int len) {
    return len == 0 ? 0 : -1 << (32 - len);
  }

  public long size() {
    return 1L << (32 - prefixLength);
  }

  public int address(long index) {
    return base + (int) index;
  }

  public boolean contains(int address) {
    return (address & mask(prefixLength)) == base;
  }

  public String baseAddress() {
    return Ipv4.format(base);
  }

  @Override
  public String toString() {
    return Ipv4.format(base) + "/" + prefixLength;
  }

  @Override
  public int compareTo(Cidr o) {
    int c = Integer.compareUnsigned(base, o.base);
    return c != 0 ? c : Integer.compare(prefixLength, o.prefixLength);
  }
}
