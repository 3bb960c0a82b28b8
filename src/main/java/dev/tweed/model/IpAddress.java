package dev.tweed.model;

import java.net.InetAddress;

/**
 * An IPv4 or IPv6 address as a 128-bit number ({@code high}, {@code low}; an IPv4 address is the
 * low 32 bits), so that prefixes, blocks and offsets are arithmetic for both families. Parsing
 * never resolves a name; printing follows RFC 5952 (the form {@code ip} and the kernel print).
 */
public record IpAddress(IpFamily family, long high, long low) implements Comparable<IpAddress> {
  public IpAddress {
    if (family == IpFamily.IPV4 && (high != 0 || (low >>> 32) != 0)) {
      throw new IllegalArgumentException("an IPv4 address has 32 bits");
    }
  }

  /** The family's unspecified address (0.0.0.0 or ::): no particular source. */
  public static IpAddress unspecified(IpFamily family) {
    return new IpAddress(family, 0, 0);
  }

  public static IpAddress v4(int address) {
    return new IpAddress(IpFamily.IPV4, 0, Integer.toUnsignedLong(address));
  }

  public static IpAddress parse(String text) {
    if (IpFamily.of(text) == IpFamily.IPV4) {
      return v4(Ipv4.parse(text));
    }
    byte[] b;
    try {
      b = InetAddress.ofLiteral(text).getAddress();
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("not an IPv6 address: " + text);
    }
    if (b.length != 16 || text.indexOf('%') >= 0) {
      throw new IllegalArgumentException("not an IPv6 address: " + text);
    }
    return fromBytes(b);
  }

  /**
   * {@code ip:port}, an IPv6 address in brackets ({@code [fd00::5]:8080}), as Go's JoinHostPort
   * writes it: what DNAT takes, what kube-proxy hashes into an endpoint chain's name, and how
   * Hubble prints an endpoint.
   */
  public static String hostPort(String ip, int port) {
    return (ip.indexOf(':') >= 0 ? "[" + ip + "]" : ip) + ":" + port;
  }

  /** 4 or 16 network-order bytes. */
  public static IpAddress fromBytes(byte[] b) {
    if (b.length == 4) {
      return v4(((b[0] & 255) << 24) | ((b[1] & 255) << 16) | ((b[2] & 255) << 8) | (b[3] & 255));
    }
    if (b.length != 16) {
      throw new IllegalArgumentException("an address has 4 or 16 bytes, not " + b.length);
    }
    long hi = 0;
    long lo = 0;
    for (int i = 0; i < 8; i++) {
      hi = (hi << 8) | (b[i] & 255);
      lo = (lo << 8) | (b[i + 8] & 255);
    }
    return new IpAddress(IpFamily.IPV6, hi, lo);
  }

  public byte[] bytes() {
    if (family == IpFamily.IPV4) {
      int v = v4();
      return new byte[] {(byte) (v >>> 24), (byte) (v >>> 16), (byte) (v >>> 8), (byte) v};
    }
    byte[] b = new byte[16];
    for (int i = 0; i < 8; i++) {
      b[i] = (byte) (high >>> (56 - 8 * i));
      b[i + 8] = (byte) (low >>> (56 - 8 * i));
    }
    return b;
  }

  /** The IPv4 address as an int; an error for IPv6, whose callers must not reach here. */
  public int v4() {
    if (family != IpFamily.IPV4) {
      throw new IllegalStateException("not an IPv4 address: " + this);
    }
    return (int) low;
  }

  /** This address plus {@code offset} (within the family's range, which callers keep). */
  public IpAddress plus(long offset) {
    long lo = low + offset;
    long hi = high + (Long.compareUnsigned(lo, low) < 0 ? 1 : 0);
    if (family == IpFamily.IPV4) {
      return v4((int) lo);
    }
    return new IpAddress(family, hi, lo);
  }

  /** How far this address lies above {@code base}, for offsets that fit a long. */
  public long minus(IpAddress base) {
    if (family != base.family) {
      throw new IllegalArgumentException(this + " and " + base + " are of different families");
    }
    return low - base.low;
  }

  /** The address with all but the first {@code prefixLength} bits cleared. */
  public IpAddress masked(int prefixLength) {
    int bits = family.bits();
    if (prefixLength < 0 || prefixLength > bits) {
      throw new IllegalArgumentException("prefix length out of range: " + prefixLength);
    }
    if (family == IpFamily.IPV4) {
      return v4(v4() & Cidr.mask(prefixLength));
    }
    long hiMask = prefixLength >= 64 ? -1L : prefixLength == 0 ? 0 : -1L << (64 - prefixLength);
    long loMask = prefixLength <= 64 ? 0 : prefixLength == 128 ? -1L : -1L << (128 - prefixLength);
    return new IpAddress(family, high & hiMask, low & loMask);
  }

  @Override
  public int compareTo(IpAddress o) {
    int c = family.compareTo(o.family);
    if (c == 0) {
      c = Long.compareUnsigned(high, o.high);
    }
    return c != 0 ? c : Long.compareUnsigned(low, o.low);
  }

  @Override
  public String toString() {
    if (family == IpFamily.IPV4) {
      return Ipv4.format(v4());
    }
    int[] g = new int[8];
    for (int i = 0; i < 4; i++) {
      g[i] = (int) (high >>> (48 - 16 * i)) & 0xffff;
      g[i + 4] = (int) (low >>> (48 - 16 * i)) & 0xffff;
    }
    // RFC 5952: the longest run of two or more zero groups (the first of equals) becomes "::".
    int bestStart = -1;
    int bestLen = 1;
    for (int i = 0; i < 8; ) {
      int j = i;
      while (j < 8 && g[j] == 0) {
        j++;
      }
      if (j - i > bestLen) {
        bestStart = i;
        bestLen = j - i;
      }
      i = j == i ? i + 1 : j;
    }
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < 8; i++) {
      if (i == bestStart) {
        sb.append("::");
        i += bestLen - 1;
        continue;
      }
      if (sb.length() > 0 && sb.charAt(sb.length() - 1) != ':') {
        sb.append(':');
      }
      sb.append(Integer.toHexString(g[i]));
    }
    return sb.toString();
  }
}
