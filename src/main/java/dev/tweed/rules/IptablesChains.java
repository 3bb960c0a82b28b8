package dev.tweed.rules;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;

/**
 * Chains as {@code iptables-save} prints them and {@code iptables-restore} reads them: a
 * declaration line {@code :NAME POLICY [counters]} per chain, then its rules as {@code -A NAME ...}
 * lines. Parsing both the rendered input and the kernel's own dump the same way lets the writers
 * compare chains by content.
 */
public final class IptablesChains {
  private IptablesChains() {}

  /** The chains of one table's text (restore input or save output) that {@code ours} accepts. */
  public static Map<String, List<String>> parse(String text, Predicate<String> ours) {
    Map<String, List<String>> out = new LinkedHashMap<>();
    text.lines().forEach(line -> add(out, line, ours));
    return out;
  }

  /** Declarations and rules of a rendered block, by chain, in declaration order. */
  public static Map<String, List<String>> group(List<String> declarations, List<String> rules) {
    Map<String, List<String>> out = new LinkedHashMap<>();
    declarations.forEach(line -> add(out, line, c -> true));
    rules.forEach(line -> add(out, line, c -> true));
    return out;
  }

  /** Files one line under its chain: a declaration opens the chain, a rule is appended to it. */
  private static void add(Map<String, List<String>> out, String line, Predicate<String> ours) {
    if (line.startsWith(":")) {
      int end = line.indexOf(' ');
      String chain = line.substring(1, end < 0 ? line.length() : end);
      if (ours.test(chain)) {
        out.putIfAbsent(chain, new ArrayList<>());
      }
    } else if (line.startsWith("-A ")) {
      int end = line.indexOf(' ', 3);
      String chain = line.substring(3, end < 0 ? line.length() : end);
      if (ours.test(chain)) {
        out.computeIfAbsent(chain, c -> new ArrayList<>()).add(line);
      }
    }
  }

  /**
   * {@code iptables-restore --noflush} input that declares (and so flushes) and fills each chain of
   * {@code write}, and flushes and deletes each chain of {@code delete}, table by table; tables
   * with nothing to do are left out, and so is everything when there is nothing at all.
   */
  public static String restoreInput(
      Map<String, Map<String, List<String>>> write, Map<String, List<String>> delete) {
    StringBuilder sb = new StringBuilder();
    Set<String> tables = new LinkedHashSet<>(write.keySet());
    tables.addAll(delete.keySet());
    for (String table : tables) {
      Map<String, List<String>> chains = write.getOrDefault(table, Map.of());
      List<String> gone = delete.getOrDefault(table, List.of());
      if (chains.isEmpty() && gone.isEmpty()) {
        continue;
      }
      sb.append('*').append(table).append('\n');
      chains.keySet().forEach(c -> sb.append(':').append(c).append(" - [0:0]\n"));
      gone.forEach(c -> sb.append(':').append(c).append(" - [0:0]\n"));
      chains.values().forEach(rules -> rules.forEach(r -> sb.append(r).append('\n')));
      gone.forEach(c -> sb.append("-X ").append(c).append('\n'));
      sb.append("COMMIT\n");
    }
    return sb.toString();
  }
}
