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
import java.util.Optional;
import java.util.Set;

/**
 * The rules the kernel matched for the traced packet, namespace by namespace, read from the trace
 * events of a whole exchange (the packet, its replies, later packets of the connection).
 *
 * <p>Each time a packet enters a namespace's netfilter, the trace table's chain is the first to see
 * it, so a PACKET event of that table starts one packet's pass; the pass keeps the kernel's trace
 * id through the namespace's hooks. A pass belongs to the traced packet when one of its headers
 * (NAT changes them from chain to chain) is one the model expects somewhere on the path. Of several
 * passes with the same header in a namespace (retransmissions, the connection's later packets) only
 * the first counts: the model follows a connection's first packet.
 */
final class KernelPath {
  private KernelPath() {}

  /**
   * A packet header as the two sides know it. Keys match when addresses and protocol agree and one
   * of the ports does: masquerading may pick a random source port, and a reply to a masqueraded
   * connection then has a random destination port.
   */
  record Key(String src, String dst, String proto, int sport, int dport) {
    static Key of(Packet p) {
      return p.hasPorts()
          ? new Key(p.srcIp(), p.dstIp(), p.proto(), p.sport(), p.dport())
          : new Key(p.srcIp(), p.dstIp(), p.proto(), 0, 0);
    }

    static Key of(Header h) {
      return new Key(h.src(), h.dst(), h.proto(), h.sport(), h.dport());
    }

    boolean matches(Key o) {
      return src.equals(o.src)
          && dst.equals(o.dst)
          && proto.equals(o.proto)
          && (sport == o.sport || dport == o.dport);
    }
  }

  private static final class Pass {
    /** Every header the packet had in this namespace: NAT may change it from chain to chain. */
    final List<Key> keys = new ArrayList<>();

    final List<NftTraceEvent> events = new ArrayList<>();
    final String id;
    Header last;

    Pass(String id, Header first) {
      this.id = id;
      this.keys.add(Key.of(first));
      this.last = first;
    }

    /** The same packet, perhaps translated since: one of its two ends unchanged. */
    boolean continuedBy(Header h) {
      return h.proto().equals(last.proto())
          && ((h.src().equals(last.src()) && h.sport() == last.sport())
              || (h.dst().equals(last.dst()) && h.dport() == last.dport()));
    }
  }

  /**
   * The kernel's path, and the passes it was read from ({@code netns#n}: the n-th pass of that
   * namespace's events).
   */
  record Path(Map<String, List<PathStep>> steps, Set<String> passes) {}

  static Map<String, List<PathStep>> of(
      Map<String, List<NftTraceEvent>> events, Set<Key> expected, RulePositions positions) {
    return of(events, expected, positions, Set.of()).steps();
  }

  /**
   * As above, leaving out the passes another comparison already took ({@code excluded}): a reply's
   * VXLAN packet between two nodes has the same outer header as the request's between the same
   * nodes (its UDP source port is a hash the model cannot know), so the request's must not be taken
   * for the reply's.
   */
  static Path of(
      Map<String, List<NftTraceEvent>> events,
      Set<Key> expected,
      RulePositions positions,
      Set<String> excluded) {
    Map<String, List<PathStep>> out = new LinkedHashMap<>();
    Set<String> used = new HashSet<>();
    for (var e : events.entrySet()) {
      String ns = e.getKey();
      List<PathStep> steps = new ArrayList<>();
      for (Pass pass : forwardPasses(ns, e.getValue(), expected, excluded)) {
        used.add(pass.id);
        for (NftTraceEvent ev : pass.events) {
          if (ev.kind() != NftTraceEvent.Kind.RULE) {
            continue;
          }
          int pos =
              positions
                  .position(ns, ev.family(), ev.table(), ev.chain(), ev.handle().orElseThrow())
                  .orElse(0);
          String text =
              positions
                  .text(ns, ev.family(), ev.table(), ev.chain(), ev.handle().orElseThrow())
                  .orElse(ev.text());
          steps.add(new PathStep(ns, ev.table(), ev.chain(), pos, text, ev.verdict()));
        }
      }
      if (!steps.isEmpty()) {
        out.put(ns, steps);
      }
    }
    return new Path(out, Set.copyOf(used));
  }

  private static List<Pass> forwardPasses(
      String ns, List<NftTraceEvent> events, Set<Key> expected, Set<String> excluded) {
    List<Pass> passes = new ArrayList<>();
    Map<String, Pass> current = new HashMap<>();
    for (NftTraceEvent ev : events) {
      boolean ours = ev.table().equals(TraceWorld.TRACE_TABLE);
      if (ours && ev.kind() == NftTraceEvent.Kind.PACKET && ev.header().isPresent()) {
        Pass p = new Pass(ns + "#" + passes.size(), ev.header().get());
        passes.add(p);
        current.put(ev.id(), p);
        continue;
      }
      if (ours) {
        continue;
      }
      Pass p = current.get(ev.id());
      if (ev.kind() == NftTraceEvent.Kind.PACKET && ev.header().isPresent()) {
        // A chain's first event names the packet. The trace id hashes the input interface, so a
        // packet br_netfilter passed through PREROUTING on a bridge comes back with another id,
        // and a later packet may reuse an id: the latest pass of the same packet takes it.
        for (int i = passes.size() - 1; i >= 0; i--) {
          if (passes.get(i).continuedBy(ev.header().get())) {
            p = passes.get(i);
            break;
          }
        }
        if (p != null) {
          current.put(ev.id(), p);
        }
      }
      if (p != null) {
        p.events.add(ev);
        if (ev.header().isPresent()) {
          p.last = ev.header().get();
          p.keys.add(Key.of(p.last));
        }
      }
    }
    Set<Key> seen = new HashSet<>();
    List<Pass> forward = new ArrayList<>();
    for (Pass p : passes) {
      if (excluded.contains(p.id)) {
        continue;
      }
      Optional<Key> known =
          expected.stream().filter(e -> p.keys.stream().anyMatch(k -> k.matches(e))).findFirst();
      if (known.isPresent() && seen.add(known.get())) {
        forward.add(p);
      }
    }
    return forward;
  }
}
