package dev.tweed.calc;

import dev.tweed.model.Cidr;
import dev.tweed.model.FdbEntry;
import dev.tweed.model.IpamBlock;
import dev.tweed.model.Neighbor;
import dev.tweed.model.NodeDataplane;
import dev.tweed.model.NodeResource;
import dev.tweed.model.Route;
import dev.tweed.model.VxlanDevice;
import dev.tweed.model.WorkloadEndpoint;
import java.util.Optional;
import java.util.TreeSet;

/**
 * Turns the cluster's nodes, IPAM blocks and this node's workload endpoints into the node's desired
 * dataplane: the VXLAN device, a /32 route per local pod, and per remote block a route via the
 * remote VTEP with the neighbour and FDB entries that resolve it (Flannel's VXLAN model, with
 * Calico's per-block routes).
 */
public final class NodeDataplaneCalculator {
  public static final String VXLAN_DEVICE = "tweed.vxlan";
  public static final int VNI = 4096;
  public static final int VXLAN_PORT = 4789;

  /** 1500 on the underlay less the 50 bytes of outer Ethernet/IP/UDP/VXLAN headers. */
  public static final int VXLAN_MTU = 1450;

  private final String nodeName;
  private final boolean overlay;
  private final boolean external;

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

  /**
   * @param external with the eBPF datapath: a collect-metadata VXLAN device whose programs choose
   *     each packet's remote node, so remote blocks are routed straight into it, without VTEP
   *     addresses, neighbours or FDB entries
   */
  public NodeDataplaneCalculator(String nodeName, boolean overlay, boolean external) {
    this.nodeName = nodeName;
    this.overlay = overlay;
    this.external = external;
  }

  public NodeDataplane calculate(ClusterState state) {
    TreeSet<Route> routes = new TreeSet<>();
    TreeSet<Neighbor> neighbors = new TreeSet<>();
    TreeSet<FdbEntry> fdb = new TreeSet<>();

    for (WorkloadEndpoint ep : state.endpoints()) {
      if (ep.node().equals(nodeName)) {
        routes.add(Route.direct(Cidr.parse(ep.ip()), ep.hostInterface()));
      }
    }

    Optional<NodeResource> self =
        state.nodes().stream().filter(n -> n.name().equals(nodeName)).findFirst();
    if (self.isEmpty() || !overlay) {
      return new NodeDataplane(Optional.empty(), routes, neighbors, fdb);
    }
    if (external) {
      for (IpamBlock b : state.blocks()) {
        if (!b.node().equals(nodeName)) {
          routes.add(Route.direct(b.cidr(), VXLAN_DEVICE));
        }
      }
      VxlanDevice dev =
          new VxlanDevice(
              VXLAN_DEVICE,
              0,
              self.get().internalIp(),
              VXLAN_PORT,
              VtepIdentity.mac(nodeName),
              VXLAN_MTU,
              "",
              true);
      return new NodeDataplane(Optional.of(dev), routes, neighbors, fdb);
    }
    Optional<String> selfVtep = VtepIdentity.address(nodeName, state.blocks());
    VxlanDevice vxlan =
        new VxlanDevice(
            VXLAN_DEVICE,
            VNI,
            self.get().internalIp(),
            VXLAN_PORT,
            VtepIdentity.mac(nodeName),
            VXLAN_MTU,
            selfVtep.orElse(""));

    for (NodeResource remote : state.nodes()) {
      if (remote.name().equals(nodeName)) {
        continue;
      }
      Optional<String> vtep = VtepIdentity.address(remote.name(), state.blocks());
      if (vtep.isEmpty()) {
        continue;
      }
      String mac = VtepIdentity.mac(remote.name());
      neighbors.add(new Neighbor(vtep.get(), mac, VXLAN_DEVICE));
      fdb.add(new FdbEntry(mac, VXLAN_DEVICE, remote.internalIp()));
      for (IpamBlock b : state.blocks()) {
        if (b.node().equals(remote.name())) {
          routes.add(Route.onlink(b.cidr(), vtep.get(), VXLAN_DEVICE));
        }
      }
    }
    return new NodeDataplane(Optional.of(vxlan), routes, neighbors, fdb);
  }
}
