package dev.tweed.proxy;

import dev.tweed.rules.BlockChange;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.SequencedMap;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * A renderer's output per service port, kept in the order kube-proxy writes ports (by port name,
 * then protocol) and changed one Service at a time: an endpoint change at 10,000 Services renders
 * one port and tells the writer which block changed, instead of rendering, sorting and comparing
 * every port.
 *
 * @param <R> what one port renders to
 */
final class RenderedPorts<R> {
  /** A block's place in the ruleset: kube-proxy sorts by port name, then protocol. */
  private record PortKey(String name, String protocol) {
    private static final Comparator<PortKey> ORDER =
        Comparator.comparing(PortKey::name).thenComparing(PortKey::protocol);

    static PortKey of(ServicePort p) {
      return new PortKey(p.portNameString(), p.protocol());
    }

    /** The block's name in a ruleset: {@code namespace/name:port/protocol}. */
    String block() {
      return name + "/" + protocol.toLowerCase(Locale.ROOT);
    }
  }

  private record Rendered<R>(ServicePort port, String block, R output) {}

  private final Function<ServicePort, R> render;
  private final TreeMap<PortKey, Rendered<R>> byPort = new TreeMap<>(PortKey.ORDER);
  private final Map<String, Set<PortKey>> byService = new HashMap<>();

  RenderedPorts(Function<ServicePort, R> render) {
    this.render = render;
  }

  /**
   * The changes that make these ports {@code ports} exactly: every Service in them with its ports,
   * and every Service rendered before and absent now with none.
   */
  Map<String, List<ServicePort>> replacing(List<ServicePort> ports) {
    Map<String, List<ServicePort>> out = new LinkedHashMap<>();
    for (ServicePort p : ports) {
      out.computeIfAbsent(serviceKey(p), k -> new ArrayList<>()).add(p);
    }
    byService.keySet().forEach(k -> out.putIfAbsent(k, List.of()));
    return out;
  }

  /**
   * Applies the ports of the Services that changed ({@code namespace/name} to its ports now, none
   * when it is gone) and returns the blocks whose output changed: added, removed or different. A
   * port equal to the one rendered before is not rendered again.
   */
  List<BlockChange<R>> apply(Map<String, List<ServicePort>> changes) {
    List<BlockChange<R>> changed = new ArrayList<>();
    for (var e : changes.entrySet()) {
      Set<PortKey> before = byService.getOrDefault(e.getKey(), Set.of());
      Set<PortKey> now = new LinkedHashSet<>();
      for (ServicePort p : e.getValue()) {
        PortKey key = PortKey.of(p);
        now.add(key);
        Rendered<R> old = byPort.get(key);
        if (old != null && old.port().equals(p)) {
          continue;
        }
        R output = render.apply(p);
        byPort.put(key, new Rendered<>(p, key.block(), output));
        if (old == null || !Objects.equals(old.output(), output)) {
          changed.add(
              new BlockChange<>(
                  key.block(),
                  Optional.ofNullable(old).map(Rendered::output),
                  Optional.of(output)));
        }
      }
      for (PortKey gone : before) {
        if (!now.contains(gone)) {
          Rendered<R> old = byPort.remove(gone);
          changed.add(new BlockChange<>(old.block(), Optional.of(old.output()), Optional.empty()));
        }
      }
      if (now.isEmpty()) {
        byService.remove(e.getKey());
      } else {
        byService.put(e.getKey(), Collections.unmodifiableSet(now));
      }
    }
    return changed;
  }

  /** Every port's output by block name, in kube-proxy's order: a new map, the caller's to keep. */
  <T> SequencedMap<String, T> blocks(Function<R, T> part) {
    SequencedMap<String, T> out = LinkedHashMap.newLinkedHashMap(byPort.size());
    byPort.values().forEach(v -> out.put(v.block(), part.apply(v.output())));
    return out;
  }

  /** Every port's output, in kube-proxy's order. */
  Iterable<R> outputs() {
    return () -> byPort.values().stream().map(Rendered::output).iterator();
  }

  private static String serviceKey(ServicePort p) {
    return p.namespace() + "/" + p.name();
  }
}
