package dev.tweed.ebpf;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes the load-balancing maps by difference, service by service: an unchanged service (the same
 * record as last written) costs nothing, a changed one only its entries that differ. Within a pass,
 * backends and slots are written before the counts and frontends that lead to them, and frontends
 * are removed before what they led to, so a packet never finds a slot without its backend. On a
 * full check (drift repair) every map is compared with the kernel's contents instead.
 *
 * <p>A write the kernel refuses (a full map) stops the pass: the entries of the service that did
 * not fit are removed again, so the programs see it as they saw it before, and the error names it.
 */
public final class LbMapWriter {
  private final Map<String, BpfMap> maps = new LinkedHashMap<>();

  /** What was written last, by service key (null: unknown, compare with the kernel). */
  private Map<String, LbService> written;

  /** The order in which a service's entries are written. */
  private static final List<String> WRITE_ORDER =
      List.of(LbMaps.BACKENDS, LbMaps.SERVICES, LbMaps.SOURCE_RANGES, LbMaps.FRONTENDS);

  public LbMapWriter(Datapath d) {
    for (String m : WRITE_ORDER) {
      maps.put(m, d.map(m));
    }
  }

  /** What a pass wrote and removed. */
  public record Result(int services, int written, int removed) {}

  /** Thrown when a map is full: names the service whose entries did not fit. */
  public static final class MapFullException extends RuntimeException {
    public MapFullException(String service, RuntimeException cause) {
      super("Service " + service + " did not fit: " + cause.getMessage(), cause);
    }
  }

  public synchronized Result write(Map<String, LbService> services, boolean readKernel) {
    if (readKernel || written == null) {
      return writeAll(services);
    }
    Map<String, LbService> before = written;
    written = null; // unknown until this pass completes
    Map<String, byte[][]> puts = new LinkedHashMap<>();
    Map<String, byte[]> removes = new LinkedHashMap<>();
    int changed = 0;
    for (var e : services.entrySet()) {
      LbService old = before.get(e.getKey());
      if (old == e.getValue() || e.getValue().equals(old)) {
        continue;
      }
      changed++;
      Map<String, byte[][]> now = entries(e.getValue());
      Map<String, byte[][]> had = old == null ? Map.of() : entries(old);
      now.forEach(
          (k, kv) -> {
            byte[][] o = had.get(k);
            if (o == null || !java.util.Arrays.equals(o[1], kv[1])) {
              puts.put(k, kv);
            }
          });
      had.forEach(
          (k, kv) -> {
            if (!now.containsKey(k)) {
              removes.put(k, kv[0]);
            }
          });
    }
    for (var e : before.entrySet()) {
      if (!services.containsKey(e.getKey())) {
        changed++;
        entries(e.getValue()).forEach((k, kv) -> removes.put(k, kv[0]));
      }
    }
    // An id freed by one service may be taken by another in the same pass: its new entry stays.
    removes.keySet().removeAll(puts.keySet());
    apply(puts, removes, services, before);
    written = new HashMap<>(services);
    return new Result(changed, puts.size(), removes.size());
  }

  /** Compares every map with the kernel's contents and converges it. */
  private Result writeAll(Map<String, LbService> services) {
    written = null;
    Map<String, byte[][]> want = new LinkedHashMap<>();
    services.values().forEach(s -> want.putAll(entries(s)));
    Map<String, byte[][]> puts = new LinkedHashMap<>();
    Map<String, byte[]> removes = new LinkedHashMap<>();
    for (var m : maps.entrySet()) {
      Map<String, byte[]> have = m.getValue().entries();
      String prefix = m.getKey() + "/";
      want.forEach(
          (k, kv) -> {
            if (k.startsWith(prefix)) {
              byte[] o = have.get(k.substring(prefix.length()));
              if (o == null || !java.util.Arrays.equals(o, kv[1])) {
                puts.put(k, kv);
              }
            }
          });
      have.forEach(
          (k, v) -> {
            if (!want.containsKey(prefix + k)) {
              removes.put(prefix + k, HexFormat.of().parseHex(k));
            }
          });
    }
    apply(puts, removes, services, Map.of());
    written = new HashMap<>(services);
    return new Result(services.size(), puts.size(), removes.size());
  }

  private void apply(
      Map<String, byte[][]> puts,
      Map<String, byte[]> removes,
      Map<String, LbService> services,
      Map<String, LbService> before) {
    for (String m : WRITE_ORDER) {
      String prefix = m + "/";
      for (var e : puts.entrySet()) {
        if (e.getKey().startsWith(prefix)) {
          put(e.getKey(), e.getValue(), services, before);
        }
      }
    }
    for (String m : WRITE_ORDER.reversed()) {
      String prefix = m + "/";
      removes.forEach(
          (k, key) -> {
            if (k.startsWith(prefix)) {
              maps.get(m).remove(key);
            }
          });
    }
  }

  private void put(
      String entry, byte[][] kv, Map<String, LbService> services, Map<String, LbService> before) {
    BpfMap map = maps.get(entry.substring(0, entry.indexOf('/')));
    try {
      map.put(kv[0], kv[1]);
    } catch (RuntimeException e) {
      LbService culprit =
          services.values().stream()
              .filter(s -> entries(s).containsKey(entry))
              .findFirst()
              .orElseThrow(() -> e);
      // The service that did not fit goes back to what it was: its old entries where it had
      // them, none of its new ones.
      Map<String, byte[][]> old =
          before.containsKey(culprit.key()) ? entries(before.get(culprit.key())) : Map.of();
      entries(culprit)
          .forEach(
              (k, v) -> {
                BpfMap m = maps.get(k.substring(0, k.indexOf('/')));
                if (old.containsKey(k)) {
                  m.put(v[0], old.get(k)[1]);
                } else {
                  m.remove(v[0]);
                }
              });
      throw new MapFullException(culprit.key(), e);
    }
  }

  private static String hex(byte[] b) {
    return HexFormat.of().formatHex(b);
  }

  /** A service's entries, keyed "map/hex key", each with its key and value bytes. */
  static Map<String, byte[][]> entries(LbService s) {
    Map<String, byte[][]> out = new LinkedHashMap<>();
    int proto = s.frontends().getFirst().protocol();
    List<LbService.Backend> all = new ArrayList<>(s.internal().backends());
    s.external().ifPresent(x -> all.addAll(x.backends()));
    for (LbService.Backend b : all) {
      add(out, LbMaps.BACKENDS, LbMaps.backendKey(b.id()), LbMaps.backendValue(s.id(), b, proto));
    }
    scope(out, s, false, s.internal());
    s.external().ifPresent(x -> scope(out, s, true, x));
    for (String cidr : s.sourceRanges()) {
      add(out, LbMaps.SOURCE_RANGES, LbMaps.sourceRangeKey(s.id(), cidr), LbMaps.SOURCE_ALLOWED);
    }
    for (LbService.Frontend f : s.frontends()) {
      add(
          out,
          LbMaps.FRONTENDS,
          LbMaps.frontendKey(f.ip(), f.port(), f.protocol()),
          LbMaps.frontendValue(s.id(), f));
    }
    return out;
  }

  private static void scope(
      Map<String, byte[][]> out, LbService s, boolean external, LbService.Scope scope) {
    List<LbService.Backend> bs = scope.backends();
    for (int i = 0; i < bs.size(); i++) {
      add(
          out,
          LbMaps.SERVICES,
          LbMaps.serviceKey(s.id(), external, i + 1),
          LbMaps.serviceSlot(bs.get(i).id()));
    }
    add(
        out,
        LbMaps.SERVICES,
        LbMaps.serviceKey(s.id(), external, 0),
        LbMaps.serviceHead(bs.size(), s.affinitySeconds(), scope.dropWhenEmpty()));
  }

  private static void add(Map<String, byte[][]> out, String map, byte[] key, byte[] value) {
    out.put(map + "/" + hex(key), new byte[][] {key, value});
  }
}
