package dev.tweed.dataplane;

import dev.tweed.model.IpFamily;
import dev.tweed.proxy.IptablesRuleset;
import dev.tweed.rules.BlockChange;
import dev.tweed.rules.IptablesChains;
import dev.tweed.rules.JumpRule;
import dev.tweed.sys.Command;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
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

  /**
   * What one sync did; {@code restoreNanos} is the time spent waiting for the kernel (the restore
   * tool's whole run, or the netlink commits), the rest of a sync being Tweed's own.
   */
  public record SyncStats(
      boolean full, int servicesWritten, int chainsDeleted, long restoreNanos) {}

  /** Whose tables: {@code iptables}' or {@code ip6tables}'. */
  private final IpFamily family;

  public IptablesWriter(List<String> commandPrefix) {
    this(commandPrefix, IpFamily.IPV4);
  }

  public IptablesWriter(List<String> commandPrefix, IpFamily family) {
    this.prefix = List.copyOf(commandPrefix);
    this.family = family;
  }

  /** Writes into the namespace this process runs in. */
  public static IptablesWriter here() {
    return new IptablesWriter(List.of());
  }

  /** Writes {@code family}'s tables ({@code ip6tables-restore} for IPv6) of this namespace. */
  public static IptablesWriter here(IpFamily family) {
    return new IptablesWriter(List.of(), family);
  }

  /** Writes into a named namespace. */
  /** Writes {@code family}'s tables in {@code netns}. */
  public static IptablesWriter inNamespace(String netns, IpFamily family) {
    return new IptablesWriter(List.of("ip", "netns", "exec", netns), family);
  }

  public static IptablesWriter inNamespace(String netns) {
    return new IptablesWriter(List.of("ip", "netns", "exec", netns));
  }

  /** A full sync. */
  public SyncStats apply(IptablesRuleset ruleset) {
    return sync(ruleset, true);
  }

  /**
   * Writes what changed since the last sync; with {@code full}, compares everything with the
   * kernel's chains too.
   */
  public SyncStats sync(IptablesRuleset ruleset, boolean full) {
    return write(ruleset, Optional.empty(), full);
  }

  /**
   * The same, told which service blocks changed since the last sync: a partial sync then looks at
   * those blocks alone (and at the shared chains, when their content moved), not at every chain.
   */
  public SyncStats sync(
      IptablesRuleset ruleset,
      List<BlockChange<IptablesRuleset.ChainBlock>> changes,
      boolean full) {
    return write(ruleset, Optional.of(changes), full);
  }

  private SyncStats write(
      IptablesRuleset ruleset,
      Optional<List<BlockChange<IptablesRuleset.ChainBlock>>> changes,
      boolean full) {
    boolean compareKernel = full || contents.isEmpty();
    boolean everyChain = compareKernel || changes.isEmpty();
    Map<String, Map<String, List<String>>> want =
        everyChain ? whole(ruleset) : changed(ruleset, changes.get());
    Map<String, Map<String, List<String>>> write = new LinkedHashMap<>();
    Map<String, List<String>> delete = new LinkedHashMap<>();
    for (var t : want.entrySet()) {
      String table = t.getKey();
      Map<String, List<String>> kernel =
          compareKernel
              ? IptablesChains.parse(
                  Command.run(argv(tool(family, "iptables-save"), "-t", table)),
                  c -> t.getValue().containsKey(c) || SERVICE_CHAIN.matcher(c).matches())
              : Map.of();
      write.put(table, contents.toWrite(table, t.getValue(), kernel, compareKernel));
      Set<String> gone = new TreeSet<>();
      if (everyChain) {
        gone.addAll(contents.vanished(table, t.getValue().keySet()));
        kernel.keySet().stream().filter(c -> !t.getValue().containsKey(c)).forEach(gone::add);
      } else if (table.equals("nat")) {
        gone.addAll(vanishedChains(changes.get(), t.getValue().keySet()));
      }
      delete.put(table, List.copyOf(gone));
    }
    String input = IptablesChains.restoreInput(write, delete);
    long start = System.nanoTime();
    if (!input.isEmpty()) {
      try {
        Command.run(argv(tool(family, "iptables-restore"), "-w", "--noflush"), input);
      } catch (RuntimeException e) {
        contents.clear();
        lastFilter = "";
        lastDispatch = null;
        throw e;
      }
    }
    long restoreNanos = System.nanoTime() - start;
    if (compareKernel) {
      ensureJumps(prefix, family, ruleset.jumps());
    }
    want.keySet().forEach(t -> contents.recorded(t, write.get(t), delete.get(t)));
    lastFilter = ruleset.filterTable();
    lastDispatch = ruleset.natDispatch();
    Set<String> natWritten = write.getOrDefault("nat", Map.of()).keySet();
    var blocks =
        everyChain
            ? ruleset.services().values().stream()
            : changes.get().stream().flatMap(c -> c.after().stream());
    long services =
        blocks.filter(b -> b.chainNames().stream().anyMatch(natWritten::contains)).count();
    int deleted = delete.values().stream().mapToInt(List::size).sum();
    return new SyncStats(compareKernel, (int) services, deleted, restoreNanos);
  }

  /** The filter text and nat dispatch chains written last (a failed write forgets them). */
  private String lastFilter = "";

  private IptablesRuleset.ChainBlock lastDispatch;

  /** Every chain of the ruleset, by table. */
  private static Map<String, Map<String, List<String>>> whole(IptablesRuleset ruleset) {
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
    return want;
  }

  /**
   * The chains a partial sync looks at: the filter table and the dispatch chains when they differ
   * from what was written last, and the chains of the service blocks that changed.
   */
  private Map<String, Map<String, List<String>>> changed(
      IptablesRuleset ruleset, List<BlockChange<IptablesRuleset.ChainBlock>> changes) {
    Map<String, Map<String, List<String>>> want = new LinkedHashMap<>();
    if (!ruleset.filterTable().equals(lastFilter)) {
      want.put("filter", IptablesChains.parse(ruleset.filterTable(), c -> !BUILT_IN.contains(c)));
    }
    Map<String, List<String>> nat = new LinkedHashMap<>();
    if (!ruleset.natDispatch().equals(lastDispatch)) {
      nat.putAll(
          IptablesChains.group(ruleset.natDispatch().chains(), ruleset.natDispatch().rules()));
    }
    for (var c : changes) {
      c.after().ifPresent(b -> nat.putAll(IptablesChains.group(b.chains(), b.rules())));
    }
    nat.keySet().removeAll(BUILT_IN);
    want.put("nat", nat);
    return want;
  }

  /** The chains the changed blocks had and no longer have. */
  private static Set<String> vanishedChains(
      List<BlockChange<IptablesRuleset.ChainBlock>> changes, Set<String> written) {
    Set<String> now = new HashSet<>(written);
    for (var c : changes) {
      c.after().ifPresent(b -> now.addAll(b.chainNames()));
    }
    Set<String> gone = new TreeSet<>();
    for (var c : changes) {
      c.before()
          .ifPresent(b -> b.chainNames().stream().filter(n -> !now.contains(n)).forEach(gone::add));
    }
    return gone;
  }

  /** Inserts each jump rule at the top of its built-in chain unless it is there ({@code -C}). */
  static void ensureJumps(List<String> prefix, List<JumpRule> jumps) {
    ensureJumps(prefix, IpFamily.IPV4, jumps);
  }

  /** The same with {@code family}'s tool. */
  static void ensureJumps(List<String> prefix, IpFamily family, List<JumpRule> jumps) {
    for (JumpRule j : jumps) {
      List<String> check = new ArrayList<>(prefix);
      check.addAll(List.of(tool(family, "iptables"), "-w", "-t", j.table(), "-C", j.chain()));
      check.addAll(unquote(j.args()));
      if (!Command.exec(check, "", Map.of()).ok()) {
        List<String> insert = new ArrayList<>(prefix);
        insert.addAll(List.of(tool(family, "iptables"), "-w", "-t", j.table(), "-I", j.chain()));
        insert.addAll(unquote(j.args()));
        Command.run(insert);
      }
    }
  }

  /** {@code iptables}, {@code iptables-save}, ... or their IPv6 counterparts ({@code ip6...}). */
  public static String tool(IpFamily family, String iptablesTool) {
    return family == IpFamily.IPV4 ? iptablesTool : "ip6" + iptablesTool.substring(2);
  }

  /** iptables-save of the namespace, for tests and for people. */
  public String save() {
    return Command.run(argv(tool(family, "iptables-save")));
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
