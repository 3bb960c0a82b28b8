package dev.tweed.lab;

import dev.tweed.datastore.DatastoreKind;
import dev.tweed.model.Datapath;
import dev.tweed.model.Dataplane;
import dev.tweed.model.IpFamilies;
import dev.tweed.model.ProxyMode;
import dev.tweed.model.Routing;

/**
 * What {@code lab up} builds: how many nodes, how they reach each other's pods ({@link Routing},
 * with the first {@code routeReflectors} nodes reflecting BGP routes, 0 for a full mesh), the
 * datapath and its proxy layout, and where the cluster's state lives (the embedded journal, or an
 * etcd cluster of {@code etcdMembers} members on the underlay), and the cluster's IP families.
 * Checked whole when made.
 */
public record LabSpec(
    int nodes,
    Routing routing,
    ProxyMode proxy,
    Datapath datapath,
    int routeReflectors,
    DatastoreKind datastore,
    int etcdMembers,
    IpFamilies ipFamilies) {
  public static final int MAX_NODES = 200;
  public static final int MAX_ETCD_MEMBERS = 7;

  public LabSpec(
      int nodes,
      Routing routing,
      ProxyMode proxy,
      Datapath datapath,
      int routeReflectors,
      DatastoreKind datastore,
      int etcdMembers) {
    this(nodes, routing, proxy, datapath, routeReflectors, datastore, etcdMembers, IpFamilies.IPV4);
  }

  public LabSpec {
    if (nodes < 1 || nodes > MAX_NODES) {
      throw new IllegalArgumentException("--nodes must be between 1 and " + MAX_NODES);
    }
    if (routeReflectors < 0
        || routeReflectors > nodes
        || (routeReflectors > 0 && routing != Routing.BGP)) {
      throw new IllegalArgumentException(
          "--route-reflectors must be between 0 and the node count, with --routing bgp");
    }
    switch (datastore) {
      case EMBEDDED -> {
        if (etcdMembers != 0) {
          throw new IllegalArgumentException("--etcd-members goes with --datastore etcd only");
        }
      }
      case ETCD -> {
        if (etcdMembers < 1 || etcdMembers > MAX_ETCD_MEMBERS) {
          throw new IllegalArgumentException(
              "--etcd-members must be between 1 and "
                  + MAX_ETCD_MEMBERS
                  + ", with --datastore etcd");
        }
      }
      case KUBERNETES ->
          throw new IllegalArgumentException(
              "--datastore must be embedded or etcd: a lab runs no Kubernetes API server");
    }
  }

  /** {@code nodes} nodes, VXLAN, the standard datapath with iptables, the embedded datastore. */
  public static LabSpec of(int nodes) {
    return new LabSpec(
        nodes, Routing.VXLAN, ProxyMode.IPTABLES, Datapath.STANDARD, 0, DatastoreKind.EMBEDDED, 0);
  }

  public LabSpec withRouting(Routing r) {
    return new LabSpec(
        nodes, r, proxy, datapath, routeReflectors, datastore, etcdMembers, ipFamilies);
  }

  public LabSpec withProxy(ProxyMode p) {
    return new LabSpec(
        nodes, routing, p, datapath, routeReflectors, datastore, etcdMembers, ipFamilies);
  }

  public LabSpec withDatapath(Datapath d) {
    return new LabSpec(
        nodes, routing, proxy, d, routeReflectors, datastore, etcdMembers, ipFamilies);
  }

  /** One of the three dataplanes: its datapath and the proxy layout that goes with it. */
  public LabSpec withDataplane(Dataplane d) {
    return withDatapath(d.datapath()).withProxy(d.proxyMode());
  }

  /** The cluster's state in an etcd cluster of {@code members} members. */
  public LabSpec withEtcd(int members) {
    return new LabSpec(
        nodes, routing, proxy, datapath, routeReflectors, DatastoreKind.ETCD, members, ipFamilies);
  }

  /** The cluster's IP families: IPv4, IPv6 or both. */
  public LabSpec withIpFamilies(IpFamilies f) {
    return new LabSpec(nodes, routing, proxy, datapath, routeReflectors, datastore, etcdMembers, f);
  }

  public boolean ebpf() {
    return datapath == Datapath.EBPF;
  }

  public boolean bgp() {
    return routing == Routing.BGP;
  }

  public boolean etcd() {
    return datastore == DatastoreKind.ETCD;
  }

  /** The dataplane a report names: ebpf, or the standard datapath's proxy layout. */
  public Dataplane dataplane() {
    if (ebpf()) {
      return Dataplane.EBPF;
    }
    return switch (proxy) {
      case IPTABLES -> Dataplane.IPTABLES;
      case NFTABLES -> Dataplane.NFTABLES;
    };
  }
}
