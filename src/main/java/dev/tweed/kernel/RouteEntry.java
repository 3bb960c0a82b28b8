package dev.tweed.kernel;

import dev.tweed.model.Cidr;
import java.util.List;
import java.util.Optional;

/**
 * One route of any table, as {@code ip -j route show table all} prints it.
 *
 * @param type unicast, local, broadcast, blackhole, unreachable, prohibit, throw, ...
 * @param nexthops one for a plain route, several for a multipath (ECMP) route
 */
public record RouteEntry(
    String table,
    String type,
    Cidr dst,
    List<Nexthop> nexthops,
    Optional<String> prefsrc,
    String protocol,
    String scope,
    int metric,
    String text) {

  /** Where a unicast route sends a packet. */
  public record Nexthop(Optional<String> gateway, Optional<String> dev, boolean onlink) {}

  public boolean isUnicast() {
    return type.equals("unicast");
  }
}
