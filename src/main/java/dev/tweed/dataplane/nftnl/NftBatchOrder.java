package dev.tweed.dataplane.nftnl;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Orders a script that replaces a table whole so that the kernel's work for it grows with its size,
 * not with its square. When a rule binds an anonymous set ({@code numgen random mod 2 vmap { ...
 * }}, {@code ip saddr != { ... }}), the kernel walks every change of the transaction so far
 * (__nft_set_trans_bind), so the same script costs O(changes x anonymous sets): at 10,000 services
 * most of a full sync. Here those rules come first, each after only what it needs: its chain, the
 * chains it jumps to and the rules before it in its chain. The table and named sets come before
 * them, everything else after, in the script's order. The table the kernel ends with is the same. A
 * script that rewrites chains in place ({@code flush chain}, then its rules) keeps each flush
 * before the chain's first rule.
 */
public final class NftBatchOrder {
  private static final Pattern TARGET = Pattern.compile("\\b(?:goto|jump) ([^\\s,}]+)");
  private static final Pattern RULE = Pattern.compile("^add rule (\\S+ \\S+) (\\S+) (.*)$");
  private static final Pattern CHAIN = Pattern.compile("^add chain (\\S+ \\S+) (\\S+)");
  private static final Pattern FLUSH = Pattern.compile("^flush chain (\\S+ \\S+) (\\S+)$");

  private NftBatchOrder() {}

  /** Whether {@code lines} replace a table whole: "add table", "delete table", then the table. */
  public static boolean replacesTable(List<String> lines) {
    return lines.size() >= 2
        && lines.get(0).startsWith("add table ")
        && lines.get(1).startsWith("delete table ");
  }

  /** {@code lines} reordered when they replace a table; other scripts as they are. */
  public static List<String> of(List<String> lines) {
    return replacesTable(lines) ? ordered(lines) : lines;
  }

  /** {@code lines} (that declare a table's objects, in an order the kernel accepts) reordered. */
  public static List<String> ordered(List<String> lines) {
    List<String> head = new ArrayList<>();
    Map<String, String> chainLines = new HashMap<>();
    Map<String, List<Integer>> rulesByChain = new HashMap<>();
    Map<String, Integer> flushes = new HashMap<>();
    for (int i = 0; i < lines.size(); i++) {
      String l = lines.get(i);
      Matcher c = CHAIN.matcher(l);
      Matcher r = RULE.matcher(l);
      Matcher f = FLUSH.matcher(l);
      if (c.find()) {
        chainLines.putIfAbsent(c.group(2), l);
      } else if (f.find()) {
        flushes.putIfAbsent(f.group(2), i);
      } else if (r.find()) {
        rulesByChain.computeIfAbsent(r.group(2), k -> new ArrayList<>()).add(i);
      }
    }
    Set<Integer> emitted = new LinkedHashSet<>();
    // The table's own lines and the named sets and maps: anything may refer to them.
    for (int i = 0; i < lines.size(); i++) {
      String l = lines.get(i);
      if (l.startsWith("add table ")
          || l.startsWith("delete table ")
          || l.startsWith("add set ")
          || l.startsWith("add map ")) {
        head.add(l);
        emitted.add(i);
      }
    }
    Set<String> declared = new LinkedHashSet<>();
    for (int i = 0; i < lines.size(); i++) {
      Matcher r = RULE.matcher(lines.get(i));
      if (emitted.contains(i) || !r.find() || !r.group(3).contains("{")) {
        continue;
      }
      for (int j : rulesByChain.get(r.group(2))) {
        if (j > i) {
          break;
        }
        if (emitted.add(j)) {
          Matcher rj = RULE.matcher(lines.get(j));
          rj.find();
          declare(head, declared, chainLines, rj.group(2));
          // A chain rewritten in place is emptied before its first rule comes.
          Integer flush = flushes.get(rj.group(2));
          if (flush != null && emitted.add(flush)) {
            head.add(lines.get(flush));
          }
          Matcher t = TARGET.matcher(rj.group(3));
          while (t.find()) {
            declare(head, declared, chainLines, t.group(1));
          }
          head.add(lines.get(j));
        }
      }
    }
    for (int i = 0; i < lines.size(); i++) {
      String l = lines.get(i);
      Matcher c = CHAIN.matcher(l);
      if (emitted.contains(i) || (c.find() && declared.contains(c.group(2)))) {
        continue;
      }
      head.add(l);
    }
    return head;
  }

  private static void declare(
      List<String> out, Set<String> declared, Map<String, String> chainLines, String chain) {
    String line = chainLines.get(chain);
    if (line != null && declared.add(chain)) {
      out.add(line);
    }
  }
}
