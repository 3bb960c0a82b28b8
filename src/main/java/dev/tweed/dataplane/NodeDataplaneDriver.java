package dev.tweed.dataplane;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.model.FdbEntry;
import dev.tweed.model.IpAddress;
import dev.tweed.model.IpFamily;
import dev.tweed.model.Json;
import dev.tweed.model.Neighbor;
import dev.tweed.model.NodeDataplane;
import dev.tweed.model.Route;
import dev.tweed.model.VxlanDevice;
import dev.tweed.sys.CommandFailedException;
import dev.tweed.sys.RtNetlinkMonitor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Converges the node's namespace to a {@link NodeDataplane}: the VXLAN device, Tweed's routes
 * (protocol 97), and the tunnel's neighbour and FDB entries. Reads first, applies only the diff.
 */
public final class NodeDataplaneDriver implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(NodeDataplaneDriver.class);

  /** How often the kernel is read whatever the notifications say (a safety net). */
  private static final long FULL_READ_NANOS = 60_000_000_000L;

  private final IpTool ip;

  /** Set by the kernel's notifications; cleared right before the kernel is read. */
  private final AtomicBoolean kernelMoved = new AtomicBoolean(true);

  private Optional<RtNetlinkMonitor> monitor = Optional.empty();

  /** The desired state of the last pass that read the kernel and left nothing for later. */
  private NodeDataplane settledOn;

  private long lastRead;

  /** Whether the last read found IPv6 routes of Tweed's (so the next reads them again). */
  private boolean ipv6Seen;

  public NodeDataplaneDriver(IpTool ip) {
    this.ip = ip;
  }

  /**
   * Reads the kernel only when it may have moved: rtnetlink's notifications of the caller's
   * namespace (the one {@code ip} works in) say when a link, address, route or neighbour changed,
   * so a quiet node's pass runs no {@code ip} at all, where it ran five every second; the kernel is
   * read every minute regardless. Without the notifications (the socket refused), every pass reads,
   * as before.
   */
  public NodeDataplaneDriver watchingKernel() {
    try {
      monitor = Optional.of(RtNetlinkMonitor.start(type -> kernelMoved.set(true)));
    } catch (RuntimeException e) {
      LOG.warn("event=rtnetlink-monitor-unavailable error=\"{}\"", e.getMessage());
    }
    return this;
  }

  /** One reconcile pass with a desired state known to be current; returns what it changed. */
  public DataplaneDiff reconcile(NodeDataplane want) {
    return reconcile(want, () -> true);
  }

  /**
   * One reconcile pass; returns what it changed. Routes out of pod interfaces (not the tunnel) are
   * removed only if {@code desiredIsCurrent} still holds once the kernel has been read, and routes
   * to interfaces that do not exist (yet, or any more) are left for a later pass.
   */
  public DataplaneDiff reconcile(NodeDataplane want, BooleanSupplier desiredIsCurrent) {
    long now = System.nanoTime();
    if (monitor.isPresent()
        && want == settledOn
        && !kernelMoved.get()
        && now - lastRead < FULL_READ_NANOS) {
      return DataplaneDiff.NONE;
    }
    // Cleared before reading: a change while the kernel is read marks it again.
    kernelMoved.set(false);
    lastRead = now;
    settledOn = null;
    want.tunnels().forEach(this::ensureVxlan);
    Set<String> tunnels = new HashSet<>();
    want.tunnels().forEach(t -> tunnels.add(t.name()));
    List<Route> haveRoutes =
        new ArrayList<>(
            KernelStateParser.routes(
                ip.json("ip", "route", "show", "proto", String.valueOf(Route.PROTOCOL))));
    // `ip route` lists one family; IPv6 routes are read while there are (or were) any.
    boolean v6 =
        ipv6Seen || want.routes().stream().anyMatch(r -> r.destination().family() == IpFamily.IPV6);
    if (v6) {
      List<Route> v6Routes =
          KernelStateParser.routes(
              ip.json("ip", "-6", "route", "show", "proto", String.valueOf(Route.PROTOCOL)));
      haveRoutes.addAll(v6Routes);
      ipv6Seen = !v6Routes.isEmpty();
    }
    List<Neighbor> haveNeigh = new ArrayList<>();
    List<FdbEntry> haveFdb = new ArrayList<>();
    for (String dev : tunnels) {
      haveNeigh.addAll(
          KernelStateParser.neighbors(
              ip.json("ip", "neigh", "show", "dev", dev, "nud", "permanent"), dev));
      haveFdb.addAll(KernelStateParser.fdb(ip.json("bridge", "fdb", "show", "dev", dev), dev));
    }
    DataplaneDiff diff =
        DataplaneDiff.between(
            want.routes(), haveRoutes, want.neighbors(), haveNeigh, want.fdb(), haveFdb);
    boolean current = desiredIsCurrent.getAsBoolean();
    DataplaneDiff doable =
        new DataplaneDiff(
            diff.addRoutes().stream().filter(r -> linkExists(r.device())).toList(),
            diff.delRoutes().stream().filter(r -> current || tunnels.contains(r.device())).toList(),
            diff.addNeighbors(),
            diff.delNeighbors(),
            diff.addFdb(),
            diff.delFdb());
    apply(doable);
    // What was left for a later pass (a route to a link not there yet, a pod route the store may
    // still want) keeps the next pass reading.
    if (doable.size() == diff.size()) {
      settledOn = want;
    }
    return doable;
  }

  private void apply(DataplaneDiff d) {
    List<String> bridgeLines = new ArrayList<>();
    d.delFdb()
        .forEach(
            f ->
                bridgeLines.add(
                    "fdb del " + f.mac() + " dev " + f.device() + " dst " + f.dst() + " self"));
    d.addFdb()
        .forEach(
            f ->
                bridgeLines.add(
                    "fdb replace "
                        + f.mac()
                        + " dev "
                        + f.device()
                        + " dst "
                        + f.dst()
                        + " self permanent"));
    report(ip.batchForce("bridge", bridgeLines));

    List<String> ipLines = new ArrayList<>();
    d.delNeighbors().forEach(n -> ipLines.add("neigh del " + n.address() + " dev " + n.device()));
    d.addNeighbors()
        .forEach(
            n ->
                ipLines.add(
                    "neigh replace "
                        + n.address()
                        + " lladdr "
                        + n.mac()
                        + " dev "
                        + n.device()
                        + " nud permanent"));
    d.delRoutes().forEach(r -> ipLines.add("route del " + r.spec()));
    d.addRoutes().forEach(r -> ipLines.add("route replace " + r.spec()));
    report(ip.batchForce("ip", ipLines));
    if (!d.isEmpty()) {
      LOG.info(
          "event=dataplane-applied routes_added={} routes_removed={} neigh_added={} neigh_removed={} fdb_added={} fdb_removed={}",
          d.addRoutes().size(),
          d.delRoutes().size(),
          d.addNeighbors().size(),
          d.delNeighbors().size(),
          d.addFdb().size(),
          d.delFdb().size());
    }
  }

  private static void report(Optional<CommandFailedException> failure) {
    // A single bad line (say, a route to a veth that was just deleted) must not block the rest;
    // the next pass retries whatever is still missing.
    failure.ifPresent(e -> LOG.warn("event=dataplane-apply-partial error=\"{}\"", e.getMessage()));
  }

  private void ensureVxlan(VxlanDevice v) {
    JsonNode links = readLink(v.name());
    if (!links.isEmpty()) {
      JsonNode l = links.get(0);
      JsonNode data = l.path("linkinfo").path("info_data");
      boolean same =
          data.path("external").asBoolean() == v.external()
              && (v.external() || data.path("id").asInt() == v.vni())
              && v.localIp()
                  .equals(data.path(v.family() == IpFamily.IPV4 ? "local" : "local6").asText())
              && data.path("port").asInt() == v.port();
      if (!same) {
        LOG.warn("event=vxlan-recreate reason=parameters-changed device={}", v.name());
        ip.run("ip", "link", "del", v.name());
      } else {
        List<String> fix = new ArrayList<>();
        if (!v.mac().equals(l.path("address").asText())) {
          fix.add("link set " + v.name() + " address " + v.mac());
        }
        if (l.path("mtu").asInt() != v.mtu()) {
          fix.add("link set " + v.name() + " mtu " + v.mtu());
        }
        if (!l.path("flags").toString().contains("\"UP\"")) {
          fix.add("link set " + v.name() + " up");
        }
        ip.batch("ip", fix);
        ensureAddress(v);
        return;
      }
    }
    String kind = v.external() ? "external" : "id " + v.vni();
    ip.batch(
        "ip",
        List.of(
            "link add "
                + v.name()
                + " address "
                + v.mac()
                + " mtu "
                + v.mtu()
                + " type vxlan "
                + kind
                + " local "
                + v.localIp()
                + " dstport "
                + v.port()
                + " nolearning",
            // A collect-metadata device has no peers to ask: nothing to resolve.
            "link set " + v.name() + (v.external() ? " arp off up" : " up")));
    LOG.info("event=vxlan-created device={} vni={} local={}", v.name(), v.vni(), v.localIp());
    ensureAddress(v);
  }

  private void ensureAddress(VxlanDevice v) {
    if (v.address().isEmpty()) {
      return;
    }
    JsonNode addrs = ip.json("ip", "addr", "show", "dev", v.name());
    for (JsonNode a : addrs.path(0).path("addr_info")) {
      if (IpAddress.parse(v.address()).equals(IpAddress.parse(a.path("local").asText("0.0.0.0")))) {
        return;
      }
    }
    if (v.family() == IpFamily.IPV4) {
      ip.run("ip", "addr", "replace", v.address() + "/32", "dev", v.name());
    } else {
      // No duplicate address detection: the address is derived from a block this node holds.
      // No prefix route either: IPv6 would add one even for a /128, which IPv4's /32 does not.
      ip.run(
          "ip", "addr", "replace", v.address() + "/128", "dev", v.name(), "nodad", "noprefixroute");
    }
  }

  private static boolean linkExists(String name) {
    return Files.exists(Path.of("/sys/class/net", name));
  }

  private JsonNode readLink(String name) {
    try {
      return ip.json("ip", "-d", "link", "show", "dev", name);
    } catch (CommandFailedException e) {
      if (e.stderr().contains("does not exist")) {
        return Json.MAPPER.createArrayNode();
      }
      throw e;
    }
  }

  @Override
  public void close() {
    monitor.ifPresent(RtNetlinkMonitor::close);
  }
}
