package dev.tweed.model;

import java.util.Collections;
import java.util.Optional;
import java.util.SortedSet;
import java.util.TreeSet;

/** Everything the agent wants in its node's network namespace. Sorted, so equal means equal. */
public record NodeDataplane(
    Optional<VxlanDevice> vxlan,
    SortedSet<Route> routes,
    SortedSet<Neighbor> neighbors,
    SortedSet<FdbEntry> fdb) {
  public NodeDataplane {
    routes = Collections.unmodifiableSortedSet(new TreeSet<>(routes));
    neighbors = Collections.unmodifiableSortedSet(new TreeSet<>(neighbors));
    fdb = Collections.unmodifiableSortedSet(new TreeSet<>(fdb));
  }

  /** A stable, line-per-fact rendering for golden tests and for people. */
  public String render() {
    StringBuilder sb = new StringBuilder();
    vxlan.ifPresent(
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
                .append("/32\n"));
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
