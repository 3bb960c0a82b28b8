package dev.tweed.model;

import java.util.Locale;

/**
 * An address family. Kubernetes spells them {@code IPv4}/{@code IPv6} ({@code spec.ipFamilies},
 * EndpointSlice {@code addressType}); the kernel's tools say {@code ip}/{@code ip6}, {@code
 * iptables}/{@code ip6tables}; people say 4 and 6.
 */
public enum IpFamily {
  IPV4(32, 4),
  IPV6(128, 6);

  private final int bits;
  private final int number;

  IpFamily(int bits, int number) {
    this.bits = bits;
    this.number = number;
  }

  public int bits() {
    return bits;
  }

  /** 4 or 6, as {@code --family 6} and CNI results (before 1.0) write it. */
  public int number() {
    return number;
  }

  /** The Kubernetes API's name: {@code IPv4} or {@code IPv6}. */
  public String apiName() {
    return this == IPV4 ? "IPv4" : "IPv6";
  }

  /** The family of an address in either notation, without parsing it whole. */
  public static IpFamily of(String address) {
    return address.indexOf(':') >= 0 ? IPV6 : IPV4;
  }

  /** {@code IPv4}/{@code IPv6} (any case), {@code ipv4}/{@code ipv6}, or {@code 4}/{@code 6}. */
  public static IpFamily parse(String text) {
    return switch (text.toLowerCase(Locale.ROOT)) {
      case "ipv4", "4" -> IPV4;
      case "ipv6", "6" -> IPV6;
      default -> throw new IllegalArgumentException("not an IP family: '" + text + "'");
    };
  }
}
