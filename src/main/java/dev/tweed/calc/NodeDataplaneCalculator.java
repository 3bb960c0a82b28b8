package dev.tweed.calc;

import dev.tweed.model.Cidr;
import dev.tweed.model.FdbEntry;
import dev.tweed.model.IpFamily;
import dev.tweed.model.IpamBlock;
import dev.tweed.model.Neighbor;
import dev.tweed.model.NodeDataplane;
import dev.tweed.model.NodeResource;
import dev.tweed.model.Route;
import dev.tweed.model.VxlanDevice;
import dev.tweed.model.WorkloadEndpoint;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * Turns the cluster's nodes, IPAM blocks and this node's workload endpoints into the node's desired
 * dataplane: per pod family a VXLAN device over the underlay of that family (Calico's {@code
 * vxlan.calico} and {@code vxlan-v6.calico}), a host route per local pod address, and per remote
 * block a route via the remote VTEP with the neighbour and FDB entries that resolve it (Flannel's
 * VXLAN model, with Calico's per-block routes).
 */
public final class NodeDataplaneCalculator {
  public static final String VXLAN_DEVICE = "tweed.vxlan";
  public static final String VXLAN6_DEVICE = "tweed.vxlan6";
  public static final int VNI = 4096;
  public static final int VNI6 = 4098;
  public static final int VXLAN_PORT = 4789;

  /** 1500 on the underlay less the 50 bytes of outer Ethernet/IPv4/UDP/VXLAN headers. */
  public static final int VXLAN_MTU = 1450;

  /** 1500 less 70: an outer IPv6 header is 20 bytes longer than an IPv4 one. */
  public static final int VXLAN6_MTU = 1430;

  private final String nodeName;
  private final boolean overlay;
  private final boolean external;
  private final Set<IpFamily> families;

  /** A VXLAN overlay node. */
  public NodeDataplaneCalculator(String nodeName) {
    this(nodeName, true);
  }

  /**
   * @param overlay false with BGP: no VXLAN device, and remote blocks are BIRD's routes, not ours
   */
  public NodeDataplaneCalculator(String nodeName, boolean overlay) {
    this(nodeName, overlay, false);
  }

  public NodeDataplaneCalculator(String nodeName, boolean overlay, boolean external) {
    this(nodeName, overlay, external, Set.of(IpFamily.IPV4));
  }

  /**
   * @param external with the eBPF datapath: a collect-metadata VXLAN device whose programs choose
   *     each packet's remote node, so remote blocks are routed straight into it, without VTEP
   *     addresses, neighbours or FDB entries
   * @param families the cluster's pod families: a tunnel for each the node has an underlay address
   *     of
   */
  public NodeDataplaneCalculator(
      String nodeName, boolean overlay, boolean external, Set<IpFamily> families) {
    this.nodeName = nodeName;
    this.overlay = overlay;
    this.external = external;
    this.families = Set.copyOf(families);
  }

  public static String device(IpFamily family) {
    return family == IpFamily.IPV4 ? VXLAN_DEVICE : VXLAN6_DEVICE;
  }

  public static int vni(IpFamily family) {
    return family == IpFamily.IPV4 ? VNI : VNI6;
  }

  public static int mtu(IpFamily family) {
    return family == IpFamily.IPV4 ? VXLAN_MTU : VXLAN6_MTU;
  }

  /** The MTU pods get: the smallest of their families' tunnels, so that none has to fragment. */
  public static int podMtu(Set<IpFamily> families) {
    return families.stream().mapToInt(NodeDataplaneCalculator::mtu).min().orElse(VXLAN_MTU);
  }

  /**
   * A node's tunnel of {@code family}, over its underlay address of that family (none without one,
   * and none but IPv4 for the eBPF datapath's collect-metadata device, which carries both families'
   * pods over the IPv4 underlay); {@code vtep} is its address ("" until the node holds a block of
   * the family).
   */
  static Optional<VxlanDevice> tunnel(
      NodeResource node, IpFamily family, boolean external, String vtep) {
    Optional<String> underlay = node.internalIp(family);
    if (underlay.isEmpty() || (external && family != IpFamily.IPV4)) {
      return Optional.empty();
    }
    String mac = VtepIdentity.mac(node.name(), family);
    return Optional.of(
        external
            ? new VxlanDevice(
                device(family), 0, underlay.get(), VXLAN_PORT, mac, mtu(family), "", true)
            : new VxlanDevice(
                device(family), vni(family), underlay.get(), VXLAN_PORT, mac, mtu(family), vtep));
  }

  public NodeDataplane calculate(ClusterState state) {
    TreeSet<Route> routes = new TreeSet<>();
    TreeSet<Neighbor> neighbors = new TreeSet<>();
    TreeSet<FdbEntry> fdb = new TreeSet<>();

    for (WorkloadEndpoint ep : state.endpoints()) {
      if (ep.node().equals(nodeName)) {
        for (String ip : ep.ips()) {
          routes.add(Route.direct(Cidr.parse(ip), ep.hostInterface()));
        }
      }
    }

    Optional<NodeResource> self =
        state.nodes().stream().filter(n -> n.name().equals(nodeName)).findFirst();
    if (self.isEmpty() || !overlay) {
      return new NodeDataplane(Optional.empty(), routes, neighbors, fdb);
    }
    List<VxlanDevice> tunnels = new ArrayList<>();
    if (external) {
      // One collect-metadata device over the IPv4 underlay carries both families: the programs
      // set each packet's remote end, IPv6 pods' packets included.
      tunnel(self.get(), IpFamily.IPV4, true, "").ifPresent(tunnels::add);
      if (!tunnels.isEmpty()) {
        for (IpamBlock b : state.blocks()) {
          if (!b.node().equals(nodeName) && families.contains(b.cidr().family())) {
            routes.add(Route.direct(b.cidr(), VXLAN_DEVICE));
          }
        }
      }
      return new NodeDataplane(tunnels, routes, neighbors, fdb);
    }
    for (IpFamily family : new TreeSet<>(families)) {
      Optional<VxlanDevice> tunnel =
          tunnel(
              self.get(),
              family,
              external,
              VtepIdentity.address(nodeName, family, state.blocks()).orElse(""));
      if (tunnel.isEmpty()) {
        continue;
      }
      tunnels.add(tunnel.get());
      String dev = device(family);
      for (NodeResource remote : state.nodes()) {
        Optional<String> vtep = VtepIdentity.address(remote.name(), family, state.blocks());
        Optional<String> remoteUnderlay = remote.internalIp(family);
        if (remote.name().equals(nodeName) || vtep.isEmpty() || remoteUnderlay.isEmpty()) {
          continue;
        }
        String mac = VtepIdentity.mac(remote.name(), family);
        neighbors.add(new Neighbor(vtep.get(), mac, dev));
        fdb.add(new FdbEntry(mac, dev, remoteUnderlay.get()));
        for (IpamBlock b : state.blocks()) {
          if (b.node().equals(remote.name()) && b.cidr().family() == family) {
            routes.add(Route.onlink(b.cidr(), vtep.get(), dev));
          }
        }
      }
    }
    return new NodeDataplane(tunnels, routes, neighbors, fdb);
  }
}
