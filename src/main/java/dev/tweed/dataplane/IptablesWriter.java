package dev.tweed.dataplane;

import dev.tweed.proxy.IptablesRuleset;
import dev.tweed.sys.Command;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Applies rendered service rules to a network namespace as kube-proxy does: one {@code
 * iptables-restore --noflush} transaction, in which the filter table and the nat dispatch chains
 * are rewritten whole and, on a partial sync, only the service chains that changed since the last
 * successful sync (chains that disappeared are flushed and deleted in the same transaction). A full
 * sync rewrites every service, deletes leftover service chains found with {@code iptables-save},
 * and ensures the jump rules from the built-in chains ({@code -C}, then {@code -I}). A failed
 * restore changes nothing, since the kernel commits all or nothing, and makes the next sync a full
 * one.
 */
public final class IptablesWriter {
  private static final Pattern SERVICE_CHAIN =
      Pattern.compile("^:(KUBE-(?:SVC|SVL|SEP|EXT|FW)-[A-Z0-9]{16}) ", Pattern.MULTILINE);
  private final List<String> prefix;
  private Optional<Map<String, IptablesRuleset.ChainBlock>> applied = Optional.empty();

  /** What one sync did. */
  public record SyncStats(
      boolean full, int servicesWritten, int chainsDeleted, long restoreNanos) {}

  public IptablesWriter(List<String> commandPrefix) {
    this.prefix = List.copyOf(commandPrefix);
  }

  /** Writes into the namespace this process runs in. */
  public static IptablesWriter here() {
    return new IptablesWriter(List.of());
  }

  /** Writes into a named namespace. */
  public static IptablesWriter inNamespace(String netns) {
    return new IptablesWriter(List.of("ip", "netns", "exec", netns));
  }

  /** A full sync. */
  public SyncStats apply(IptablesRuleset ruleset) {
    return sync(ruleset, true);
  }

  public SyncStats sync(IptablesRuleset ruleset, boolean full) {
    boolean doFull = full || applied.isEmpty();
    Set<String> write = new LinkedHashSet<>();
    Set<String> delete = new LinkedHashSet<>();
    if (doFull) {
      write.addAll(ruleset.services().keySet());
      delete.addAll(staleChains(ruleset));
    } else {
      Map<String, IptablesRuleset.ChainBlock> before = applied.get();
      for (var e : ruleset.services().entrySet()) {
        if (!e.getValue().equals(before.get(e.getKey()))) {
          write.add(e.getKey());
        }
      }
      Set<String> declared = new HashSet<>();
      ruleset.services().values().forEach(b -> declared.addAll(b.chainNames()));
      for (var e : before.entrySet()) {
        if (!ruleset.services().containsKey(e.getKey()) || write.contains(e.getKey())) {
          e.getValue().chainNames().stream()
              .filter(c -> !declared.contains(c))
              .forEach(delete::add);
        }
      }
    }
    String input = ruleset.restoreInput(write, delete);
    long start = System.nanoTime();
    try {
      Command.run(argv("iptables-restore", "-w", "--noflush"), input);
    } catch (RuntimeException e) {
      applied = Optional.empty();
      throw e;
    }
    long restoreNanos = System.nanoTime() - start;
    if (doFull) {
      ensureJumps(prefix, ruleset.jumps());
    }
    applied = Optional.of(Map.copyOf(ruleset.services()));
    return new SyncStats(doFull, write.size(), delete.size(), restoreNanos);
  }

  /** Inserts each jump rule at the top of its built-in chain unless it is there ({@code -C}). */
  static void ensureJumps(List<String> prefix, List<IptablesRuleset.JumpRule> jumps) {
    for (IptablesRuleset.JumpRule j : jumps) {
      List<String> check = new ArrayList<>(prefix);
      check.addAll(List.of("iptables", "-w", "-t", j.table(), "-C", j.chain()));
      check.addAll(unquote(j.args()));
      if (!Command.exec(check, "", Map.of()).ok()) {
        List<String> insert = new ArrayList<>(prefix);
        insert.addAll(List.of("iptables", "-w", "-t", j.table(), "-I", j.chain()));
        insert.addAll(unquote(j.args()));
        Command.run(insert);
      }
    }
  }

  /** iptables-save of the namespace, for tests and for people. */
  public String save() {
    return Command.run(argv("iptables-save"));
  }

  /** Service chains in the kernel that the ruleset no longer declares. */
  private List<String> staleChains(IptablesRuleset ruleset) {
    Set<String> active = new HashSet<>();
    ruleset.services().values().forEach(b -> active.addAll(b.chainNames()));
    ruleset.natDispatch().chainNames().forEach(active::add);
    List<String> stale = new ArrayList<>();
    Matcher existing = SERVICE_CHAIN.matcher(Command.run(argv("iptables-save", "-t", "nat")));
    while (existing.find()) {
      if (!active.contains(existing.group(1))) {
        stale.add(existing.group(1));
      }
    }
    return stale;
  }

  /** Arguments as rendered carry shell-style quotes around comments; exec wants them bare. */
  static List<String> unquote(List<String> args) {
    List<String> out = new ArrayList<>();
    for (String a : args) {
      out.add(
          a.length() >= 2 && a.startsWith("\"") && a.endsWith("\"")
              ? a.substring(1, a.length() - 1)
              : a);
    }
    return out;
  }

  private List<String> argv(String... cmd) {
    List<String> out = new ArrayList<>(prefix);
    out.addAll(List.of(cmd));
    return out;
  }
}
