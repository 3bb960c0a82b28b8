package dev.tweed.dataplane;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What a writer last put in each of its chains, and the kernel's own text of it, so that a sync
 * rewrites only the chains that changed (as felix compares its chains by rule hashes): a chain
 * whose rendered rules are those last written is left alone, unless a full sync finds that the
 * kernel's rules of it are no longer the ones it read before (drift, repaired by a rewrite).
 *
 * <p>The kernel prints rules in its own normal form, which need not be the rendered text, so the
 * reference for drift is the kernel's text as a full sync first reads it after the chain was
 * written; drift between a write and that read is caught by the full sync after.
 */
final class ChainContents {
  private final Map<String, List<String>> written = new HashMap<>();
  private final Map<String, List<String>> kernelText = new HashMap<>();

  /**
   * The chains of {@code want} to write now. With {@code kernel} (a full sync: the table's chains
   * as the kernel has them), missing and drifted chains are written too.
   */
  Map<String, List<String>> toWrite(
      String table,
      Map<String, List<String>> want,
      Map<String, List<String>> kernel,
      boolean full) {
    Map<String, List<String>> out = new LinkedHashMap<>();
    for (var e : want.entrySet()) {
      String key = table + "/" + e.getKey();
      if (!e.getValue().equals(written.get(key))) {
        out.put(e.getKey(), e.getValue());
        continue;
      }
      if (!full) {
        continue;
      }
      List<String> now = kernel.get(e.getKey());
      List<String> before = kernelText.get(key);
      if (now == null || (before != null && !before.equals(now))) {
        out.put(e.getKey(), e.getValue());
      } else if (before == null) {
        kernelText.put(key, now);
      }
    }
    return out;
  }

  /** The chains of {@code table} that were written and are not in {@code want} any more. */
  List<String> vanished(String table, Set<String> want) {
    String prefix = table + "/";
    return written.keySet().stream()
        .filter(k -> k.startsWith(prefix))
        .map(k -> k.substring(prefix.length()))
        .filter(c -> !want.contains(c))
        .sorted()
        .toList();
  }

  /** After a successful restore: these chains hold these rules, and those are gone. */
  void recorded(String table, Map<String, List<String>> chains, List<String> deleted) {
    chains.forEach(
        (c, rules) -> {
          written.put(table + "/" + c, List.copyOf(rules));
          kernelText.remove(table + "/" + c);
        });
    deleted.forEach(
        c -> {
          written.remove(table + "/" + c);
          kernelText.remove(table + "/" + c);
        });
  }

  /** After a failed restore nothing is known: the next sync compares everything again. */
  void clear() {
    written.clear();
    kernelText.clear();
  }

  boolean isEmpty() {
    return written.isEmpty();
  }
}
