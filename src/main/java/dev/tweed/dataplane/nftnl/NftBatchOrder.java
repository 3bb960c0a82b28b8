package dev.tweed.dataplane.nftnl;

import dev.tweed.rules.nft.NftCommand;
import dev.tweed.rules.nft.NftStatement;
import dev.tweed.rules.nft.NftVerdict;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Orders the commands that replace a table whole so that the kernel's work for them grows with
 * their number, not with its square. When a rule binds an anonymous set ({@code numgen random mod 2
 * vmap { ... }}, {@code ip saddr != { ... }}), the kernel walks every change of the transaction so
 * far (__nft_set_trans_bind), so the same commands cost O(changes x anonymous sets): at 10,000
 * services most of a full sync. Here those rules come first, each after only what it needs: its
 * chain, the chains it jumps to and the rules before it in its chain. The table and named sets come
 * before them, everything else after, in the given order. The table the kernel ends with is the
 * same. Commands that rewrite chains in place ({@code flush chain}, then its rules) keep each flush
 * before the chain's first rule.
 */
public final class NftBatchOrder {
  private NftBatchOrder() {}

  /** Whether {@code commands} replace a table whole: add table, delete table, then the table. */
  public static boolean replacesTable(List<? extends NftCommand> commands) {
    return commands.size() >= 2
        && commands.get(0) instanceof NftCommand.AddTable
        && commands.get(1) instanceof NftCommand.DeleteTable;
  }

  /** {@code commands} reordered when they replace a table; others as they are. */
  public static List<NftCommand> of(List<NftCommand> commands) {
    return replacesTable(commands) ? ordered(commands) : commands;
  }

  /**
   * {@code commands} (that declare a table's objects, in an order the kernel accepts) reordered.
   */
  public static List<NftCommand> ordered(List<NftCommand> commands) {
    List<NftCommand> head = new ArrayList<>();
    Map<String, NftCommand> chains = new HashMap<>();
    Map<String, List<Integer>> rulesByChain = new HashMap<>();
    Map<String, Integer> flushes = new HashMap<>();
    for (int i = 0; i < commands.size(); i++) {
      switch (commands.get(i)) {
        case NftCommand.AddChain c -> chains.putIfAbsent(c.name(), c);
        case NftCommand.Flush f when f.kind() == NftCommand.Kind.CHAIN ->
            flushes.putIfAbsent(f.name(), i);
        case NftCommand.AddRule r ->
            rulesByChain.computeIfAbsent(r.chain(), k -> new ArrayList<>()).add(i);
        default -> {}
      }
    }
    Set<Integer> emitted = new LinkedHashSet<>();
    // The table's own commands and the named sets and maps: anything may refer to them.
    for (int i = 0; i < commands.size(); i++) {
      NftCommand c = commands.get(i);
      if (c instanceof NftCommand.AddTable
          || c instanceof NftCommand.DeleteTable
          || c instanceof NftCommand.AddSet) {
        head.add(c);
        emitted.add(i);
      }
    }
    Set<String> declared = new LinkedHashSet<>();
    for (int i = 0; i < commands.size(); i++) {
      if (emitted.contains(i)
          || !(commands.get(i) instanceof NftCommand.AddRule r)
          || !bindsAnonymousSet(r)) {
        continue;
      }
      for (int j : rulesByChain.get(r.chain())) {
        if (j > i) {
          break;
        }
        if (emitted.add(j)) {
          NftCommand.AddRule rj = (NftCommand.AddRule) commands.get(j);
          declare(head, declared, chains, rj.chain());
          // A chain rewritten in place is emptied before its first rule comes.
          Integer flush = flushes.get(rj.chain());
          if (flush != null && emitted.add(flush)) {
            head.add(commands.get(flush));
          }
          for (String target : targets(rj)) {
            declare(head, declared, chains, target);
          }
          head.add(rj);
        }
      }
    }
    for (int i = 0; i < commands.size(); i++) {
      NftCommand c = commands.get(i);
      if (emitted.contains(i)
          || c instanceof NftCommand.AddChain a && declared.contains(a.name())) {
        continue;
      }
      head.add(c);
    }
    return head;
  }

  /** A rule with a set or map of its own: several addresses in braces, a random verdict map. */
  static boolean bindsAnonymousSet(NftCommand.AddRule rule) {
    return rule.statements().stream()
        .anyMatch(
            s ->
                s instanceof NftStatement.RandomVerdict
                    || s instanceof NftStatement.AddressIs a && a.values().size() > 1);
  }

  /** The chains a rule jumps or goes to. */
  private static List<String> targets(NftCommand.AddRule rule) {
    List<String> out = new ArrayList<>();
    for (NftStatement s : rule.statements()) {
      List<NftVerdict> verdicts =
          switch (s) {
            case NftStatement.Verdict v -> List.of(v.verdict());
            case NftStatement.RandomVerdict r -> r.verdicts();
            default -> List.of();
          };
      verdicts.forEach(v -> v.chain().ifPresent(out::add));
    }
    return out;
  }

  private static void declare(
      List<NftCommand> out, Set<String> declared, Map<String, NftCommand> chains, String chain) {
    NftCommand c = chains.get(chain);
    if (c != null && declared.add(chain)) {
      out.add(c);
    }
  }
}
