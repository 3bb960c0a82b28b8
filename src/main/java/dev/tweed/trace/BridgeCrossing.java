package dev.tweed.trace;

import dev.tweed.kernel.BridgeFdbEntry;
import dev.tweed.kernel.Link;
import dev.tweed.kernel.NetnsState;
import java.util.List;
import java.util.Optional;

/**
 * A Linux bridge: a frame in on a port goes up to the bridge's own IP stack or out of the port its
 * fdb (or a flood) names, through br_netfilter's hooks where that is on.
 */
final class BridgeCrossing {
  private final TraceWorld world;
  private final Endings endings;
  private final NetfilterHooks hooks;
  private final IpStack stack;

  BridgeCrossing(TraceWorld world, Endings endings, NetfilterHooks hooks, IpStack stack) {
    this.world = world;
    this.endings = endings;
    this.hooks = hooks;
    this.stack = stack;
  }

  /**
   * With br_netfilter on ({@code net.bridge.bridge-nf-call-iptables=1}), IPv4 frames a bridge
   * receives pass PREROUTING with the bridge as input device (and the port as physdev), once: the
   * IP stack skips PREROUTING for them if they go up to the host.
   */
  private static boolean brNetfilter(NetnsState ns) {
    return ns.sysctls().getOrDefault("net.bridge.bridge-nf-call-iptables", "0").equals("1");
  }

  List<Outcome> bridgeIn(NetnsState ns, Walk w, Link port) {
    String bridge = port.master().get();
    Link br = ns.link(bridge).orElseThrow();
    w =
        w.hop(
            Hop.of(
                ns.name(),
                "bridge",
                Optional.of(port.name()),
                "into bridge " + bridge + " on port " + port.name()));
    if (!brNetfilter(ns)) {
      return bridgeDecide(ns, w, br, port, false);
    }
    Walk in = w;
    return hooks
        .run(
            ns,
            in,
            "PREROUTING",
            Optional.of(bridge),
            Optional.empty(),
            false,
            Optional.of(port.name()),
            Optional.empty())
        .then(
            a -> {
              if (!a.packet().dst().equals(in.packet().dst())) {
                a =
                    a.uncertain(
                        "br_netfilter: a bridged packet DNATed in PREROUTING is routed again by"
                            + " the bridge, which is not modelled");
              }
              return bridgeDecide(ns, a, br, port, true);
            });
  }

  /** The bridge's choice: up to its own IP stack, or out of a port. */
  private List<Outcome> bridgeDecide(
      NetnsState ns, Walk w, Link br, Link port, boolean preroutingDone) {
    String mac = w.dstMac().orElse("");
    if (mac.equalsIgnoreCase(br.mac())) {
      w =
          w.hop(
              Hop.of(
                  ns.name(),
                  "bridge",
                  Optional.of(br.name()),
                  "addressed to the bridge itself: up to " + br.name() + "'s IP stack"));
      return preroutingDone ? stack.routeIn(ns, w, br.name()) : stack.receive(ns, w, br.name());
    }
    return bridgeOut(ns, w, br, Optional.of(port.name()));
  }

  List<Outcome> bridgeOut(NetnsState ns, Walk w, Link br, Optional<String> inPort) {
    String mac = w.dstMac().orElse("");
    Optional<BridgeFdbEntry> fdb =
        ns.fdb().stream()
            .filter(
                f ->
                    f.mac().equalsIgnoreCase(mac)
                        && f.master().map(br.name()::equals).orElse(false)
                        && !inPort.map(f.dev()::equals).orElse(false))
            .findFirst();
    String outPort;
    if (fdb.isPresent()) {
      outPort = fdb.get().dev();
      w =
          w.hop(
              Hop.of(
                  ns.name(),
                  "fdb",
                  Optional.of(br.name()),
                  mac + " is behind port " + outPort + " (fdb)"));
    } else {
      // Unknown unicast is flooded; it reaches the port whose far end owns the MAC.
      Optional<String> owner = Optional.empty();
      for (Link port : ns.links()) {
        if (port.master().map(br.name()::equals).orElse(false)
            && !inPort.map(port.name()::equals).orElse(false)) {
          Optional<TraceWorld.Endpoint> peer = world.peer(ns.name(), port);
          if (peer.isPresent() && peer.get().link().mac().equalsIgnoreCase(mac)) {
            owner = Optional.of(port.name());
          }
        }
      }
      if (owner.isEmpty()) {
        return List.of(
            endings.end(w, "dropped", "bridge " + br.name() + ": no port leads to " + mac));
      }
      outPort = owner.get();
      w =
          w.hop(
              Hop.of(
                  ns.name(),
                  "fdb",
                  Optional.of(br.name()),
                  mac + " not in the fdb: flooded, reaches port " + outPort));
    }
    if (inPort.isEmpty() || !brNetfilter(ns)) {
      return leaveBridge(ns, w, outPort, mac);
    }
    // br_netfilter: a frame bridged from port to port passes FORWARD and POSTROUTING with the
    // bridge as both devices and the ports as physdev.
    Optional<String> brName = Optional.of(br.name());
    Optional<String> physOut = Optional.of(outPort);
    return hooks
        .run(ns, w, "FORWARD", brName, brName, false, inPort, physOut)
        .then(
            f ->
                hooks
                    .run(ns, f, "POSTROUTING", Optional.empty(), brName, false, inPort, physOut)
                    .then(r -> leaveBridge(ns, r, outPort, mac)));
  }

  private List<Outcome> leaveBridge(NetnsState ns, Walk w, String outPort, String mac) {
    Link port = ns.link(outPort).orElseThrow();
    Optional<TraceWorld.Endpoint> peer = world.peer(ns.name(), port);
    if (peer.isEmpty()) {
      return List.of(endings.forwarded(w, ns.name(), outPort, mac));
    }
    return stack.crossVeth(ns, w, port, peer.get());
  }
}
