package dev.tweed.trace.verify;

import dev.tweed.kernel.Packet;
import dev.tweed.kernel.nftables.NftTraceEvent;
import dev.tweed.kernel.nftables.NftTraceEvent.Header;
import dev.tweed.trace.TraceWorld;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The rules the kernel matched for the traced packet, namespace by namespace, read from the trace
 * events of a whole exchange (the packet, its replies, later packets of the connection).
 *
 * <p>Each time a packet enters a namespace's netfilter, the trace table's chain is the first to see
 * it, so a PACKET event of that table starts one packet's pass; the pass keeps the kernel's trace
 * id through the namespace's hooks. A pass belongs to the traced packet when its header is one the
 * model expects somewhere on the path (source port aside: masquerading may pick a random one). Of
 * several passes with the same header in a namespace (retransmissions, the connection's later
 * packets) only the first counts: the model follows a connection's first packet.
 */
final class KernelPath {
  private KernelPath() {}

  record Key(String src, String dst, String proto, int dport) {
    static Key of(Packet p) {
      return new Key(p.srcIp(), p.dstIp(), p.proto(), p.hasPorts() ? p.dport() : 0);
    }

    static Key of(Header h) {
      return new Key(h.src(), h.dst(), h.proto(), h.dport());
    }
  }

  private static final class Pass {
    final Key key;
    final List<NftTraceEvent> events = new ArrayList<>();

    Pass(Key key) {
      this.key = key;
    }
  }

  static Map<String, List<PathStep>> of(
      Map<String, List<NftTraceEvent>> events, Set<Key> expected, RulePositions positions) {
    Map<String, List<PathStep>> out = new LinkedHashMap<>();
    for (var e : events.entrySet()) {
      String ns = e.getKey();
      List<PathStep> steps = new ArrayList<>();
      for (Pass pass : forwardPasses(e.getValue(), expected)) {
        for (NftTraceEvent ev : pass.events) {
          if (ev.kind() != NftTraceEvent.Kind.RULE) {
            continue;
          }
          int pos =
              positions
                  .position(ns, ev.family(), ev.table(), ev.chain(), ev.handle().orElseThrow())
                  .orElse(0);
          steps.add(new PathStep(ns, ev.table(), ev.chain(), pos, ev.text(), ev.verdict()));
        }
      }
      if (!steps.isEmpty()) {
        out.put(ns, steps);
      }
    }
    return out;
  }

  private static List<Pass> forwardPasses(List<NftTraceEvent> events, Set<Key> expected) {
    List<Pass> passes = new ArrayList<>();
    Map<String, Pass> current = new HashMap<>();
    for (NftTraceEvent ev : events) {
      boolean ours = ev.table().equals(TraceWorld.TRACE_TABLE);
      if (ours && ev.kind() == NftTraceEvent.Kind.PACKET && ev.header().isPresent()) {
        Pass p = new Pass(Key.of(ev.header().get()));
        passes.add(p);
        current.put(ev.id(), p);
      } else if (!ours && current.containsKey(ev.id())) {
        current.get(ev.id()).events.add(ev);
      }
    }
    Set<Key> seen = new HashSet<>();
    List<Pass> forward = new ArrayList<>();
    for (Pass p : passes) {
      if (expected.contains(p.key) && seen.add(p.key)) {
        forward.add(p);
      }
    }
    return forward;
  }
}
