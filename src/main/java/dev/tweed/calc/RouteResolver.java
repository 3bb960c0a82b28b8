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
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * The node's routes, kept current update by update (felix's route resolver): a local pod's host
 * routes (/32, /128) from its endpoint; per remote node and family, the routes to its blocks with
 * the neighbour and FDB entries that resolve them. An update recomputes only what it touches: an
 * endpoint its route, a block or a node that node's share. It gives what {@link
 * NodeDataplaneCalculator} gives from scratch for the same resources (a property test holds it to
 * that).
 */
public final class RouteResolver {
  private final String self;
  private final boolean overlay;
  private final boolean external;
  private final TreeSet<IpFamily> families;

  private final Map<String, NodeResource> nodes = new HashMap<>();
  private final Map<String, IpamBlock> blocks = new HashMap<>();
  private final Map<String, TreeSet<Cidr>> blocksByNode = new HashMap<>();
  private final Map<String, List<Route>> localRoutes = new HashMap<>();

  /** What each remote node adds: the routes to its blocks, and how its VTEPs are reached. */
  private record Share(List<Route> routes, List<Neighbor> neighbors, List<FdbEntry> fdb) {
    static final Share NONE = new Share(List.of(), List.of(), List.of());
  }

  private final Map<String, Share> shares = new HashMap<>();
  private Optional<NodeDataplane> last = Optional.empty();

  /** As {@link NodeDataplaneCalculator#NodeDataplaneCalculator(String, boolean, boolean)}. */
  public RouteResolver(String self, boolean overlay, boolean external) {
    this(self, overlay, external, Set.of(IpFamily.IPV4));
  }

  /** As {@link NodeDataplaneCalculator#NodeDataplaneCalculator(String, boolean, boolean, Set)}. */
  public RouteResolver(String self, boolean overlay, boolean external, Set<IpFamily> families) {
    this.self = self;
    this.overlay = overlay;
    this.external = external;
    this.families = new TreeSet<>(families);
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
    Optional<List<Route>> route =
        endpoint
            .filter(w -> w.node().equals(self))
            .map(
                w ->
                    w.ips().stream()
                        .map(ip -> Route.direct(Cidr.parse(ip), w.hostInterface()))
                        .toList());
    List<Route> before =
        route.isPresent() ? localRoutes.put(key, route.get()) : localRoutes.remove(key);
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
      // device, whether or not its node is known; IPv6 blocks too (the device carries both
      // families over the IPv4 underlay).
      return new Share(
          held.stream()
              .filter(c -> families.contains(c.family()))
              .map(c -> Route.direct(c, NodeDataplaneCalculator.VXLAN_DEVICE))
              .toList(),
          List.of(),
          List.of());
    }
    NodeResource n = nodes.get(node);
    if (n == null) {
      return Share.NONE;
    }
    List<Route> routes = new ArrayList<>();
    List<Neighbor> neighbors = new ArrayList<>();
    List<FdbEntry> fdb = new ArrayList<>();
    for (IpFamily family : families) {
      List<Cidr> ofFamily = held.stream().filter(c -> c.family() == family).toList();
      Optional<String> underlay = n.internalIp(family);
      if (ofFamily.isEmpty() || underlay.isEmpty()) {
        continue;
      }
      String dev = NodeDataplaneCalculator.device(family);
      String vtep = ofFamily.getFirst().baseAddress();
      String mac = VtepIdentity.mac(node, family);
      ofFamily.forEach(c -> routes.add(Route.onlink(c, vtep, dev)));
      neighbors.add(new Neighbor(vtep, mac, dev));
      fdb.add(new FdbEntry(mac, dev, underlay.get()));
    }
    return new Share(routes, neighbors, fdb);
  }

  /** The node's desired routes, neighbours, FDB entries and VXLAN device, now. */
  public NodeDataplane dataplane() {
    if (last.isEmpty()) {
      last = Optional.of(assemble());
    }
    return last.get();
  }

  private NodeDataplane assemble() {
    TreeSet<Route> routes = new TreeSet<>();
    localRoutes.values().forEach(routes::addAll);
    TreeSet<Neighbor> neighbors = new TreeSet<>();
    TreeSet<FdbEntry> fdb = new TreeSet<>();
    NodeResource me = nodes.get(self);
    if (me == null || !overlay) {
      return new NodeDataplane(Optional.empty(), routes, neighbors, fdb);
    }
    for (Share s : shares.values()) {
      for (Route r : s.routes()) {
        // A remote block routed into a tunnel this node cannot have (no underlay address of the
        // tunnel's family here) would only be refused by the kernel.
        IpFamily underlay = external ? IpFamily.IPV4 : r.destination().family();
        if (me.internalIp(underlay).isPresent()) {
          routes.add(r);
        }
      }
      s.neighbors().stream()
          .filter(x -> me.internalIp(IpFamily.of(x.address())).isPresent())
          .forEach(neighbors::add);
      s.fdb().stream()
          .filter(x -> me.internalIp(IpFamily.of(x.dst())).isPresent())
          .forEach(fdb::add);
    }
    List<VxlanDevice> tunnels = new ArrayList<>();
    if (external) {
      NodeDataplaneCalculator.tunnel(me, IpFamily.IPV4, true, "").ifPresent(tunnels::add);
      return new NodeDataplane(tunnels, routes, neighbors, fdb);
    }
    for (IpFamily family : families) {
      NodeDataplaneCalculator.tunnel(
              me,
              family,
              external,
              Optional.ofNullable(blocksByNode.get(self)).stream()
                  .flatMap(TreeSet::stream)
                  .filter(c -> c.family() == family)
                  .findFirst()
                  .map(Cidr::baseAddress)
                  .orElse(""))
          .ifPresent(tunnels::add);
    }
    return new NodeDataplane(tunnels, routes, neighbors, fdb);
  }
}
