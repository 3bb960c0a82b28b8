package dev.tweed.model;

/** An IPv4 or IPv6 prefix, normalised so that host bits are zero. */
public record Cidr(IpAddress base, int prefixLength) implements Comparable<Cidr> {
  public Cidr {
    base = base.masked(prefixLength);
  }

  /** An IPv4 prefix from its int base. */
  public static Cidr v4(int base, int prefixLength) {
    return new Cidr(IpAddress.v4(base), prefixLength);
  }

  /** {@code a.b.c.d/n}, {@code x::y/n}, or a bare address (a host prefix). */
  public static Cidr parse(String text) {
    int slash = text.indexOf('/');
    if (slash < 0) {
      return host(IpAddress.parse(text));
    }
    int len;
    try {
      len = Integer.parseInt(text.substring(slash + 1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("not a CIDR: " + text);
    }
    return new Cidr(IpAddress.parse(text.substring(0, slash)), len);
  }

  /** Parses {@code text} and refuses host bits, as the Kubernetes API does for CIDR fields. */
  public static Cidr parseStrict(String text) {
    Cidr c = parse(text);
    int slash = text.indexOf('/');
    if (slash >= 0 && !IpAddress.parse(text.substring(0, slash)).equals(c.base())) {
      throw new IllegalArgumentException(
          "'" + text + "' has host bits set (the network is " + c + ")");
    }
    return c;
  }

  public static Cidr host(IpAddress address) {
    return new Cidr(address, address.family().bits());
  }

  public static Cidr host(int address) {
    return v4(address, 32);
  }

  /** The whole of one family's space: 0.0.0.0/0 or ::/0. */
  public static Cidr any(IpFamily family) {
    return new Cidr(new IpAddress(family, 0, 0), 0);
  }

  static int mask(int len) {
    return len == 0 ? 0 : -1 << (32 - len);
  }

  public IpFamily family() {
    return base.family();
  }

  /** The IPv4 base as an int (for the IPv4-only eBPF maps and rules). */
  public int v4Base() {
    return base.v4();
  }

  /** How many addresses, saturated at {@link Long#MAX_VALUE} for large IPv6 prefixes. */
  public long size() {
    int hostBits = family().bits() - prefixLength;
    return hostBits >= 63 ? Long.MAX_VALUE : 1L << hostBits;
  }

  public IpAddress address(long index) {
    return base.plus(index);
  }

  public boolean contains(IpAddress address) {
    return address.family() == family() && address.masked(prefixLength).equals(base);
  }

  /** An IPv4 address as an int. */
  public boolean contains(int address) {
    return contains(IpAddress.v4(address));
  }

  /** Whether {@code inner} lies wholly within this prefix. */
  public boolean covers(Cidr inner) {
    return inner.prefixLength >= prefixLength && contains(inner.base);
  }

  public boolean isHost() {
    return prefixLength == family().bits();
  }

  public String baseAddress() {
    return base.toString();
  }

  @Override
  public String toString() {
    return base + "/" + prefixLength;
  }

  @Override
  public int compareTo(Cidr o) {
    int c = base.compareTo(o.base);
    return c != 0 ? c : Integer.compare(prefixLength, o.prefixLength);
  }
}
