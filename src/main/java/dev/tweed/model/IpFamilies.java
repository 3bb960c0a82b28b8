package dev.tweed.model;

import java.util.List;

/**
 * A cluster's IP families ({@code --ip-family}): IPv4 only, IPv6 only, or dual-stack with IPv4
 * first (Kubernetes' usual order; the first family is the primary one, a pod's {@code podIP}).
 */
public enum IpFamilies implements Mode {
  IPV4(List.of(IpFamily.IPV4)),
  IPV6(List.of(IpFamily.IPV6)),
  DUAL(List.of(IpFamily.IPV4, IpFamily.IPV6));

  private final List<IpFamily> families;

  IpFamilies(List<IpFamily> families) {
    this.families = families;
  }

  public static IpFamilies parse(String text) {
    return Mode.parse(IpFamilies.class, text);
  }

  /** In the cluster's order. */
  public List<IpFamily> families() {
    return families;
  }

  public boolean has(IpFamily family) {
    return families.contains(family);
  }

  public IpFamily primary() {
    return families.getFirst();
  }
}
