package dev.tweed.model;

import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * Everything the agent wants in its node's network namespace: a VXLAN device per overlay family,
 * routes, neighbours and FDB entries. Sorted, so equal means equal.
 */
public record NodeDataplane(
    List<VxlanDevice> tunnels,
    SortedSet<Route> routes,
    SortedSet<Neighbor> neighbors,
    SortedSet<FdbEntry> fdb) {
  public NodeDataplane {
    tunnels = tunnels.stream().sorted(Comparator.comparing(VxlanDevice::name)).toList();
    routes = Collections.unmodifiableSortedSet(new TreeSet<>(routes));
    neighbors = Collections.unmodifiableSortedSet(new TreeSet<>(neighbors));
    fdb = Collections.unmodifiableSortedSet(new TreeSet<>(fdb));
  }

  /** A node with at most one tunnel. */
  public NodeDataplane(
      Optional<VxlanDevice> vxlan,
      SortedSet<Route> routes,
      SortedSet<Neighbor> neighbors,
      SortedSet<FdbEntry> fdb) {
    this(vxlan.stream().toList(), routes, neighbors, fdb);
  }

  /** The tunnel that carries {@code family}'s pods. */
  public Optional<VxlanDevice> tunnel(IpFamily family) {
    return tunnels.stream().filter(t -> t.family() == family).findFirst();
  }

  /** A stable, line-per-fact rendering for golden tests and for people. */
  public String render() {
    StringBuilder sb = new StringBuilder();
    tunnels.forEach(
        v ->
            sb.append("vxlan ")
                .append(v.name())
                .append(" vni ")
                .append(v.vni())
                .append(" local ")
                .append(v.localIp())
                .append(" dstport ")
                .append(v.port())
                .append(" mac ")
                .append(v.mac())
                .append(" mtu ")
                .append(v.mtu())
                .append(" address ")
                .append(v.address())
                .append('/')
                .append(v.family().bits())
                .append('\n'));
    routes.forEach(r -> sb.append("route ").append(r.spec()).append('\n'));
    neighbors.forEach(
        n ->
            sb.append("neigh ")
                .append(n.address())
                .append(" lladdr ")
                .append(n.mac())
                .append(" dev ")
                .append(n.device())
                .append(" nud permanent\n"));
    fdb.forEach(
        f ->
            sb.append("fdb ")
                .append(f.mac())
                .append(" dev ")
                .append(f.device())
                .append(" dst ")
                .append(f.dst())
                .append(" self permanent\n"));
    return sb.toString();
  }
}
