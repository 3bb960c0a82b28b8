package dev.tweed.dataplane;

import dev.tweed.proxy.IptablesRuleset;
import dev.tweed.sys.Command;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Applies a rendered ruleset to the current network namespace as kube-proxy does: one {@code
 * iptables-restore --noflush} transaction for the filter and nat tables (chains it declares are
 * replaced whole, other chains are left alone), plus the jump rules from the built-in chains, each
 * checked with {@code -C} and inserted with {@code -I} when missing. Service chains that are no
 * longer rendered are flushed and deleted in the same transaction. A failed restore changes
 * nothing: the kernel commits a table only when all of it applies.
 */
public final class IptablesWriter {
  private static final Pattern SERVICE_CHAIN =
      Pattern.compile("^:(KUBE-(?:SVC|SVL|SEP|EXT|FW)-[A-Z0-9]{16}) ", Pattern.MULTILINE);
  private final List<String> prefix;

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

  public void apply(IptablesRuleset ruleset) {
    String input = withStaleChainsRemoved(ruleset.restoreInput());
    Command.run(argv("iptables-restore", "--noflush"), input);
    for (IptablesRuleset.JumpRule j : ruleset.jumps()) {
      List<String> check = argv("iptables", "-w", "-t", j.table(), "-C", j.chain());
      check.addAll(unquote(j.args()));
      if (!Command.exec(check, "", Map.of()).ok()) {
        List<String> insert = argv("iptables", "-w", "-t", j.table(), "-I", j.chain());
        insert.addAll(unquote(j.args()));
        Command.run(insert);
      }
    }
  }

  /** iptables-save of the namespace, for tests and for people. */
  public String save() {
    return Command.run(argv("iptables-save"));
  }

  private String withStaleChainsRemoved(String input) {
    Set<String> active = new HashSet<>();
    Matcher m = SERVICE_CHAIN.matcher(input);
    while (m.find()) {
      active.add(m.group(1));
    }
    List<String> stale = new ArrayList<>();
    Matcher existing = SERVICE_CHAIN.matcher(Command.run(argv("iptables-save", "-t", "nat")));
    while (existing.find()) {
      if (!active.contains(existing.group(1))) {
        stale.add(existing.group(1));
      }
    }
    if (stale.isEmpty()) {
      return input;
    }
    int natStart = input.indexOf("*nat\n") + "*nat\n".length();
    int commit = input.indexOf("COMMIT\n", natStart);
    StringBuilder decl = new StringBuilder();
    StringBuilder deletes = new StringBuilder();
    for (String c : stale) {
      decl.append(':').append(c).append(" - [0:0]\n");
      deletes.append("-X ").append(c).append('\n');
    }
    return input.substring(0, natStart)
        + decl
        + input.substring(natStart, commit)
        + deletes
        + input.substring(commit);
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
