package dev.tweed.ebpf;

import dev.tweed.model.IpFamily;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

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

  /** The IPv4 maps' writer. */
  public LbMapWriter(Datapath d) {
    this(d, IpFamily.IPV4);
  }

  /** The writer of one family's maps (a dual-stack Service's ports are a service in each). */
  public LbMapWriter(Datapath d, IpFamily family) {
    for (String m : WRITE_ORDER) {
      maps.put(m, d.map(DatapathMaps.of(m, family)));
    }
  }

  /** What a pass wrote and removed. */
  /**
   * @param kernelNanos the time spent in {@code bpf(2)} calls (reading, writing, removing), the
   *     rest of a pass being the writer's own
   */
  public record Result(int services, int written, int removed, long kernelNanos) {}

  /** Time in bpf(2) calls during the current pass. */
  private long kernelNanos;

  /** Thrown when a map is full: names the service whose entries did not fit. */
  public static final class MapFullException extends RuntimeException {
    public MapFullException(String service, RuntimeException cause) {
      super("Service " + service + " did not fit: " + cause.getMessage(), cause);
    }
  }

  /**
   * Converges the maps to {@code services}: by difference with what was written last, or with the
   * kernel's contents when {@code readKernel} or when what was written is unknown.
   */
  public synchronized Result write(Map<String, LbService> services, boolean readKernel) {
    if (readKernel || written == null) {
      return writeAll(services);
    }
    Map<String, Optional<LbService>> changes = new LinkedHashMap<>();
    services.forEach(
        (k, s) -> {
          if (!s.equals(written.get(k))) {
            changes.put(k, Optional.of(s));
          }
        });
    written.keySet().stream()
        .filter(k -> !services.containsKey(k))
        .forEach(k -> changes.put(k, Optional.empty()));
    return writeChanges(changes, services);
  }

  /**
   * Writes only {@code changes} (a service, or empty for one removed), by difference with what was
   * written for each; {@code all} is every service, written in full when what the maps hold is
   * unknown (after a failure, or before the first pass).
   */
  public synchronized Result writeChanges(
      Map<String, Optional<LbService>> changes, Map<String, LbService> all) {
    if (written == null) {
      return writeAll(all);
    }
    Map<String, LbService> before = written;
    written = null; // unknown until this pass completes
    kernelNanos = 0;
    Map<String, byte[][]> puts = new LinkedHashMap<>();
    Map<String, byte[]> removes = new LinkedHashMap<>();
    Map<String, LbService> changedBefore = new HashMap<>();
    int changed = 0;
    for (var e : changes.entrySet()) {
      LbService old = before.get(e.getKey());
      LbService now = e.getValue().orElse(null);
      if (old == now || (now != null && now.equals(old))) {
        continue;
      }
      changed++;
      if (old != null) {
        changedBefore.put(old.key(), old);
      }
      Map<String, byte[][]> want = now == null ? Map.of() : entries(now);
      Map<String, byte[][]> had = old == null ? Map.of() : entries(old);
      want.forEach(
          (k, kv) -> {
            byte[][] o = had.get(k);
            if (o == null || !Arrays.equals(o[1], kv[1])) {
              puts.put(k, kv);
            }
          });
      had.forEach(
          (k, kv) -> {
            if (!want.containsKey(k)) {
              removes.put(k, kv[0]);
            }
          });
    }
    // An id freed by one service may be taken by another in the same pass: its new entry stays.
    removes.keySet().removeAll(puts.keySet());
    Map<String, LbService> touched = new HashMap<>();
    changes.forEach((k, v) -> v.ifPresent(s -> touched.put(k, s)));
    apply(puts, removes, touched, changedBefore);
    changes.forEach((k, v) -> v.ifPresentOrElse(s -> before.put(k, s), () -> before.remove(k)));
    written = before;
    return new Result(changed, puts.size(), removes.size(), kernelNanos);
  }

  /** Compares every map with the kernel's contents and converges it. */
  private Result writeAll(Map<String, LbService> services) {
    written = null;
    kernelNanos = 0;
    // By map, keyed by the key's hex form (as the kernel's contents are read back).
    Map<String, Map<String, byte[][]>> want = new LinkedHashMap<>();
    maps.keySet().forEach(m -> want.put(m, new LinkedHashMap<>()));
    services
        .values()
        .forEach(s -> forEachEntry(s, (m, k, v) -> want.get(m).put(hex(k), new byte[][] {k, v})));
    Map<String, byte[][]> puts = new LinkedHashMap<>();
    Map<String, byte[]> removes = new LinkedHashMap<>();
    for (var m : maps.entrySet()) {
      long k0 = System.nanoTime();
      Map<String, byte[]> have = m.getValue().entries();
      kernelNanos += System.nanoTime() - k0;
      String prefix = m.getKey() + "/";
      Map<String, byte[][]> wanted = want.get(m.getKey());
      wanted.forEach(
          (k, kv) -> {
            byte[] o = have.get(k);
            if (o == null || !Arrays.equals(o, kv[1])) {
              puts.put(prefix + k, kv);
            }
          });
      have.forEach(
          (k, v) -> {
            if (!wanted.containsKey(k)) {
              removes.put(prefix + k, HexFormat.of().parseHex(k));
            }
          });
    }
    apply(puts, removes, services, Map.of());
    written = new HashMap<>(services);
    return new Result(services.size(), puts.size(), removes.size(), kernelNanos);
  }

  private void apply(
      Map<String, byte[][]> puts,
      Map<String, byte[]> removes,
      Map<String, LbService> services,
      Map<String, LbService> before) {
    for (String m : WRITE_ORDER) {
      String prefix = m + "/";
      List<String> names = new ArrayList<>();
      List<byte[][]> entries = new ArrayList<>();
      for (var e : puts.entrySet()) {
        if (e.getKey().startsWith(prefix)) {
          names.add(e.getKey());
          entries.add(e.getValue());
        }
      }
      if (m.equals(LbMaps.SOURCE_RANGES)) {
        // An LPM trie takes no batch.
        for (int i = 0; i < entries.size(); i++) {
          put(names.get(i), entries.get(i), services, before);
        }
        continue;
      }
      try {
        long k0 = System.nanoTime();
        maps.get(m).putAll(entries);
        kernelNanos += System.nanoTime() - k0;
      } catch (BpfMap.RefusedEntryException e) {
        refused(names.get(e.index()), e, services, before);
      }
    }
    for (String m : WRITE_ORDER.reversed()) {
      String prefix = m + "/";
      removes.forEach(
          (k, key) -> {
            if (k.startsWith(prefix)) {
              long k0 = System.nanoTime();
              maps.get(m).remove(key);
              kernelNanos += System.nanoTime() - k0;
            }
          });
    }
  }

  private void put(
      String entry, byte[][] kv, Map<String, LbService> services, Map<String, LbService> before) {
    try {
      maps.get(entry.substring(0, entry.indexOf('/'))).put(kv[0], kv[1]);
    } catch (RuntimeException e) {
      refused(entry, e, services, before);
    }
  }

  /**
   * A write the kernel refused: the service it belongs to goes back to what it was (its old entries
   * where it had them, none of its new ones), and the error names it.
   */
  private void refused(
      String entry,
      RuntimeException e,
      Map<String, LbService> services,
      Map<String, LbService> before) {
    LbService culprit =
        services.values().stream()
            .filter(s -> entries(s).containsKey(entry))
            .findFirst()
            .orElseThrow(() -> e);
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

  private static String hex(byte[] b) {
    return HexFormat.of().formatHex(b);
  }

  /** A service's entries, keyed "map/hex key", each with its key and value bytes. */
  static Map<String, byte[][]> entries(LbService s) {
    Map<String, byte[][]> out = new LinkedHashMap<>();
    forEachEntry(s, (m, k, v) -> add(out, m, k, v));
    return out;
  }

  /** Receives a map entry: the map's name, the key and the value. */
  interface EntrySink {
    void accept(String map, byte[] key, byte[] value);
  }

  /**
   * A service's entries in the order they are written: backends, slots before the count that makes
   * them reachable, source ranges, frontends last.
   */
  static void forEachEntry(LbService s, EntrySink out) {
    int proto = s.frontends().getFirst().protocol();
    List<LbService.Backend> all = new ArrayList<>(s.internal().backends());
    s.external().ifPresent(x -> all.addAll(x.backends()));
    for (LbService.Backend b : all) {
      out.accept(LbMaps.BACKENDS, LbMaps.backendKey(b.id()), LbMaps.backendValue(s.id(), b, proto));
    }
    scope(out, s, false, s.internal());
    s.external().ifPresent(x -> scope(out, s, true, x));
    for (String cidr : s.sourceRanges()) {
      out.accept(LbMaps.SOURCE_RANGES, LbMaps.sourceRangeKey(s.id(), cidr), LbMaps.SOURCE_ALLOWED);
    }
    for (LbService.Frontend f : s.frontends()) {
      out.accept(
          LbMaps.FRONTENDS,
          LbMaps.frontendKey(f.ip(), f.port(), f.protocol()),
          LbMaps.frontendValue(s.id(), f));
    }
  }

  private static void scope(EntrySink out, LbService s, boolean external, LbService.Scope scope) {
    List<LbService.Backend> bs = scope.backends();
    for (int i = 0; i < bs.size(); i++) {
      out.accept(
          LbMaps.SERVICES,
          LbMaps.serviceKey(s.id(), external, i + 1),
          LbMaps.serviceSlot(bs.get(i).id()));
    }
    out.accept(
        LbMaps.SERVICES,
        LbMaps.serviceKey(s.id(), external, 0),
        LbMaps.serviceHead(bs.size(), s.affinitySeconds(), scope.dropWhenEmpty()));
  }

  private static void add(Map<String, byte[][]> out, String map, byte[] key, byte[] value) {
    out.put(map + "/" + hex(key), new byte[][] {key, value});
  }
}
