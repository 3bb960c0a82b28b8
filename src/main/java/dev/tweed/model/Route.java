package dev.tweed.model;

import java.util.Optional;

/**
 * A route the agent owns (tagged with {@link #PROTOCOL} so that it never touches routes it did not
 * write): either straight out of a device (scope link) or via an on-link gateway.
 */
public record Route(Cidr destination, Optional<String> gateway, String device)
    implements Comparable<Route> {
  /** The rtnetlink protocol number that marks Tweed's routes, as Felix marks its own with 80. */
  public static final int PROTOCOL = 97;

  public static Route direct(Cidr dst, String device) {
    return new Route(dst, Optional.empty(), device);
  }

  public static Route onlink(Cidr dst, String gateway, String device) {
    return new Route(dst, Optional.of(gateway), device);
  }

  /** The route in {@code ip route} syntax, without the verb. */
  public String spec() {
    return destination
        + gateway
            .map(g -> " via " + g + " dev " + device + " onlink")
            .orElse(" dev " + device + " scope link")
        + " proto "
        + PROTOCOL;
  }

  @Override
  public int compareTo(Route o) {
    return destination.compareTo(o.destination) != 0
        ? destination.compareTo(o.destination)
        : spec().compareTo(o.spec());
  }
}
