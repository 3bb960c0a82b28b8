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
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;

/**
 * The node's routes, kept current update by update (felix's route resolver): a local pod's /32
 * route from its endpoint; per remote node, the routes to its blocks with the neighbour and FDB
 * entries that resolve them. An update recomputes only what it touches: an endpoint its route, a
 * block or a node that node's share. It gives what {@link NodeDataplaneCalculator} gives from
 * scratch for the same resources (a property test holds it to that).
 */
public final class RouteResolver {
  private final String self;
  private final boolean overlay;
  private final boolean external;

  private final Map<String, NodeResource> nodes = new HashMap<>();
  private final Map<String, IpamBlock> blocks = new HashMap<>();
  private final Map<String, TreeSet<Cidr>> blocksByNode = new HashMap<>();
  private final Map<String, Route> localRoutes = new HashMap<>();

  /** What each remote node adds: the routes to its blocks, and how its VTEP is reached. */
  private record Share(List<Route> routes, Optional<Neighbor> neighbor, Optional<FdbEntry> fdb) {
    static final Share NONE = new Share(List.of(), Optional.empty(), Optional.empty());
  }

  private final Map<String, Share> shares = new HashMap<>();
  private Optional<NodeDataplane> last = Optional.empty();

  /** As {@link NodeDataplaneCalculator#NodeDataplaneCalculator(String, boolean, boolean)}. */
  public RouteResolver(String self, boolean overlay, boolean external) {
    this.self = self;
    this.overlay = overlay;
    this.external = external;
  }

  public void node(String name, Optional<NodeResource> node) {
    node.ifPresentOrElse(n -> nodes.put(name, n), () -> nodes.remove(name));
    reshare(name);
  }

  /** A block by its resource key; it may move from one node to another. */
  public void block(String key, Optional<IpamBlock> block) {
    IpamBlock old = blocks.remove(key);
    if (old != null) {
      TreeSet<Cidr> held = blocksByNode.get(old.node());
      held.remove(old.cidr());
      if (held.isEmpty()) {
        blocksByNode.remove(old.node());
      }
    }
    block.ifPresent(
        b -> {
          blocks.put(key, b);
          blocksByNode.computeIfAbsent(b.node(), n -> new TreeSet<>()).add(b.cidr());
        });
    if (old != null && !block.map(IpamBlock::node).equals(Optional.of(old.node()))) {
      reshare(old.node());
    }
    block.ifPresent(b -> reshare(b.node()));
  }

  /** A workload endpoint by its resource key: a route when it is this node's. */
  public void endpoint(String key, Optional<WorkloadEndpoint> endpoint) {
    Optional<Route> route =
        endpoint
            .filter(w -> w.node().equals(self))
            .map(w -> Route.direct(Cidr.parse(w.ip()), w.hostInterface()));
    Route before = route.isPresent() ? localRoutes.put(key, route.get()) : localRoutes.remove(key);
    if (!route.equals(Optional.ofNullable(before))) {
      last = Optional.empty();
    }
  }

  private void reshare(String node) {
    shares.put(node, share(node));
    last = Optional.empty();
  }

  private Share share(String node) {
    TreeSet<Cidr> held = blocksByNode.getOrDefault(node, new TreeSet<>());
    if (node.equals(self) || held.isEmpty()) {
      return Share.NONE;
    }
    if (external) {
      // The programs choose each packet's remote node: every remote block straight into the
      // device, whether or not its node is known.
      return new Share(
          held.stream().map(c -> Route.direct(c, NodeDataplaneCalculator.VXLAN_DEVICE)).toList(),
          Optional.empty(),
          Optional.empty());
    }
    NodeResource n = nodes.get(node);
    if (n == null) {
      return Share.NONE;
    }
    String vtep = held.first().baseAddress();
    String mac = VtepIdentity.mac(node);
    return new Share(
        held.stream()
            .map(c -> Route.onlink(c, vtep, NodeDataplaneCalculator.VXLAN_DEVICE))
            .toList(),
        Optional.of(new Neighbor(vtep, mac, NodeDataplaneCalculator.VXLAN_DEVICE)),
        Optional.of(new FdbEntry(mac, NodeDataplaneCalculator.VXLAN_DEVICE, n.internalIp())));
  }

  /** The node's desired routes, neighbours, FDB entries and VXLAN device, now. */
  public NodeDataplane dataplane() {
    if (last.isEmpty()) {
      last = Optional.of(assemble());
    }
    return last.get();
  }

  private NodeDataplane assemble() {
    TreeSet<Route> routes = new TreeSet<>(localRoutes.values());
    TreeSet<Neighbor> neighbors = new TreeSet<>();
    TreeSet<FdbEntry> fdb = new TreeSet<>();
    NodeResource me = nodes.get(self);
    if (me == null || !overlay) {
      return new NodeDataplane(Optional.empty(), routes, neighbors, fdb);
    }
    for (Share s : shares.values()) {
      routes.addAll(s.routes());
      s.neighbor().ifPresent(neighbors::add);
      s.fdb().ifPresent(fdb::add);
    }
    String mac = VtepIdentity.mac(self);
    VxlanDevice device =
        external
            ? new VxlanDevice(
                NodeDataplaneCalculator.VXLAN_DEVICE,
                0,
                me.internalIp(),
                NodeDataplaneCalculator.VXLAN_PORT,
                mac,
                NodeDataplaneCalculator.VXLAN_MTU,
                "",
                true)
            : new VxlanDevice(
                NodeDataplaneCalculator.VXLAN_DEVICE,
                NodeDataplaneCalculator.VNI,
                me.internalIp(),
                NodeDataplaneCalculator.VXLAN_PORT,
                mac,
                NodeDataplaneCalculator.VXLAN_MTU,
                Optional.ofNullable(blocksByNode.get(self))
                    .map(b -> b.first().baseAddress())
                    .orElse(""));
    return new NodeDataplane(Optional.of(device), routes, neighbors, fdb);
  }
}
