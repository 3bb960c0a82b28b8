package dev.tweed.dataplane;

import dev.tweed.proxy.IptablesRuleset;
import dev.tweed.rules.IptablesChains;
import dev.tweed.rules.JumpRule;
import dev.tweed.sys.Command;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * Applies rendered service rules to a network namespace as kube-proxy does: one {@code
 * iptables-restore --noflush} transaction that rewrites only the chains whose rules changed since
 * the last successful sync (chains that disappeared are flushed and deleted in the same
 * transaction). A full sync also reads the kernel's chains: missing or drifted chains are written
 * again, leftover service chains are deleted, and the jump rules from the built-in chains are
 * ensured ({@code -C}, then {@code -I}); chains whose content is unchanged keep their rules (and
 * rule handles), so a quiet node's rules do not move under anyone tracing them. A failed restore
 * changes nothing, since the kernel commits all or nothing, and makes the next sync compare
 * everything again.
 */
public final class IptablesWriter {
  private static final Pattern SERVICE_CHAIN =
      Pattern.compile("KUBE-(?:SVC|SVL|SEP|EXT|FW)-[A-Z0-9]{16}");
  private static final Set<String> BUILT_IN =
      Set.of("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING");
  private final List<String> prefix;
  private final ChainContents contents = new ChainContents();

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
    boolean doFull = full || contents.isEmpty();
    Map<String, Map<String, List<String>>> want = new LinkedHashMap<>();
    want.put("filter", IptablesChains.parse(ruleset.filterTable(), c -> !BUILT_IN.contains(c)));
    Map<String, List<String>> nat =
        new LinkedHashMap<>(
            IptablesChains.group(ruleset.natDispatch().chains(), ruleset.natDispatch().rules()));
    ruleset
        .services()
        .values()
        .forEach(b -> nat.putAll(IptablesChains.group(b.chains(), b.rules())));
    nat.keySet().removeAll(BUILT_IN);
    want.put("nat", nat);

    Map<String, Map<String, List<String>>> write = new LinkedHashMap<>();
    Map<String, List<String>> delete = new LinkedHashMap<>();
    for (var t : want.entrySet()) {
      String table = t.getKey();
      Map<String, List<String>> kernel =
          doFull
              ? IptablesChains.parse(
                  Command.run(argv("iptables-save", "-t", table)),
                  c -> t.getValue().containsKey(c) || SERVICE_CHAIN.matcher(c).matches())
              : Map.of();
      write.put(table, contents.toWrite(table, t.getValue(), kernel, doFull));
      Set<String> gone = new TreeSet<>(contents.vanished(table, t.getValue().keySet()));
      kernel.keySet().stream().filter(c -> !t.getValue().containsKey(c)).forEach(gone::add);
      delete.put(table, List.copyOf(gone));
    }
    String input = IptablesChains.restoreInput(write, delete);
    long start = System.nanoTime();
    if (!input.isEmpty()) {
      try {
        Command.run(argv("iptables-restore", "-w", "--noflush"), input);
      } catch (RuntimeException e) {
        contents.clear();
        throw e;
      }
    }
    long restoreNanos = System.nanoTime() - start;
    if (doFull) {
      ensureJumps(prefix, ruleset.jumps());
    }
    want.keySet().forEach(t -> contents.recorded(t, write.get(t), delete.get(t)));
    Set<String> natWritten = write.get("nat").keySet();
    long services =
        ruleset.services().values().stream()
            .filter(b -> b.chainNames().stream().anyMatch(natWritten::contains))
            .count();
    int deleted = delete.values().stream().mapToInt(List::size).sum();
    return new SyncStats(doFull, (int) services, deleted, restoreNanos);
  }

  /** Inserts each jump rule at the top of its built-in chain unless it is there ({@code -C}). */
  static void ensureJumps(List<String> prefix, List<JumpRule> jumps) {
    for (JumpRule j : jumps) {
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
