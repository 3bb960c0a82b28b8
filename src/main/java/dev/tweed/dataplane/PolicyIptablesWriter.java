package dev.tweed.dataplane;

import dev.tweed.model.IpFamily;
import dev.tweed.policy.IptablesPolicyRuleset;
import dev.tweed.policy.IptablesPolicyRuleset.Ipset;
import dev.tweed.rules.IptablesChains;
import dev.tweed.sys.Command;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Applies rendered policy rules as felix's table writer does: ipset changes first (new sets and
 * element differences, one {@code ipset restore}), then one {@code iptables-restore --noflush}
 * transaction that rewrites only the chains whose rules changed and deletes the chains that are
 * gone, then the sets nothing refers to any more are destroyed. A full sync compares with what the
 * kernel holds: missing or drifted chains are written again, unchanged ones left alone (their rule
 * handles stay), leftover {@code tweed-*} chains and {@code tw-*} sets are removed, and the jumps
 * from the built-in chains are ensured. If the restore fails, the ipset changes are undone, so the
 * kernel is left as it was. One writer per family: IPv6's writes with {@code ip6tables-restore} and
 * owns the {@code tw6-*} sets.
 */
public final class PolicyIptablesWriter {
  private final Pattern setLine;
  private final String setPrefix;
  private final IpFamily family;
  private final List<String> prefix;
  private Optional<IptablesPolicyRuleset> applied = Optional.empty();
  private final ChainContents contents = new ChainContents();

  /** What one sync did. */
  public record SyncStats(boolean full, int chainsWritten, int setChanges, long nanos) {}

  public PolicyIptablesWriter(List<String> commandPrefix) {
    this(commandPrefix, IpFamily.IPV4);
  }

  public PolicyIptablesWriter(List<String> commandPrefix, IpFamily family) {
    this.prefix = List.copyOf(commandPrefix);
    this.family = family;
    this.setPrefix = family == IpFamily.IPV4 ? "tw-" : "tw6-";
    this.setLine =
        Pattern.compile(
            "^(create|add) (" + Pattern.quote(setPrefix) + "\\S+) (.*)$", Pattern.MULTILINE);
  }

  public SyncStats sync(IptablesPolicyRuleset want, boolean full) {
    long start = System.nanoTime();
    boolean doFull = full || applied.isEmpty();
    Map<String, List<String>> haveRaw;
    Map<String, List<String>> haveFilter;
    Map<String, Ipset> haveSets;
    if (doFull) {
      haveRaw = kernelChains("raw");
      haveFilter = kernelChains("filter");
      haveSets = kernelSets();
    } else {
      haveRaw = applied.get().raw();
      haveFilter = applied.get().filter();
      haveSets = applied.get().ipsets();
    }
    Map<String, List<String>> rawWrite = contents.toWrite("raw", want.raw(), haveRaw, doFull);
    Map<String, List<String>> filterWrite =
        contents.toWrite("filter", want.filter(), haveFilter, doFull);
    List<String> rawDelete = gone(want.raw(), haveRaw);
    List<String> filterDelete = gone(want.filter(), haveFilter);

    StringBuilder forward = new StringBuilder();
    StringBuilder undo = new StringBuilder();
    List<String> destroy = new ArrayList<>();
    for (Ipset s : want.ipsets().values()) {
      Ipset have = haveSets.get(s.name());
      if (have == null) {
        forward
            .append("create ")
            .append(s.name())
            .append(' ')
            .append(s.type())
            .append(" family ")
            .append(want.ipsetFamily())
            .append('\n');
        undo.append("destroy ").append(s.name()).append('\n');
        s.entries()
            .forEach(
                e -> forward.append("add ").append(s.name()).append(' ').append(e).append('\n'));
        continue;
      }
      for (String e : s.entries()) {
        if (!have.entries().contains(e)) {
          forward.append("add ").append(s.name()).append(' ').append(e).append('\n');
          undo.append("del ").append(s.name()).append(' ').append(key(e)).append('\n');
        }
      }
      for (String e : have.entries()) {
        if (!s.entries().contains(e)) {
          forward.append("del ").append(s.name()).append(' ').append(key(e)).append('\n');
          undo.append("add ").append(s.name()).append(' ').append(e).append('\n');
        }
      }
    }
    for (String name : haveSets.keySet()) {
      if (!want.ipsets().containsKey(name)) {
        destroy.add(name);
      }
    }
    int setChanges = forward.isEmpty() ? 0 : (int) forward.chars().filter(c -> c == '\n').count();
    if (!forward.isEmpty()) {
      Command.run(argv("ipset", "restore", "-exist"), forward.toString());
    }
    String input = want.restoreInput(rawWrite, filterWrite, rawDelete, filterDelete);
    if (!input.isEmpty()) {
      try {
        Command.run(
            argv(IptablesWriter.tool(family, "iptables-restore"), "-w", "--noflush"), input);
      } catch (RuntimeException e) {
        applied = Optional.empty();
        contents.clear();
        if (!undo.isEmpty()) {
          Command.exec(argv("ipset", "restore", "-exist"), undo.toString(), Map.of());
        }
        throw e;
      }
    }
    if (doFull) {
      IptablesWriter.ensureJumps(prefix, family, want.jumps());
    }
    for (String name : destroy) {
      Command.exec(argv("ipset", "destroy", name), "", Map.of());
    }
    contents.recorded("raw", rawWrite, rawDelete);
    contents.recorded("filter", filterWrite, filterDelete);
    applied = Optional.of(want);
    return new SyncStats(
        doFull,
        rawWrite.size() + filterWrite.size(),
        setChanges + destroy.size(),
        System.nanoTime() - start);
  }

  /**
   * True when the kernel's Tweed sets differ from the ones last written in name or number of
   * members, read from a terse listing ({@code ipset list -t}: headers, no members) instead of
   * every member. A member swapped for another, the count unchanged, waits for the full comparison.
   */
  public boolean setSizesMoved() {
    if (applied.isEmpty()) {
      return true;
    }
    Map<String, Integer> kernel = new HashMap<>();
    String name = null;
    for (String line : Command.run(argv("ipset", "list", "-t")).split("\n")) {
      if (line.startsWith("Name: ")) {
        name = line.substring(6).strip();
      } else if (line.startsWith("Number of entries: ") && name != null) {
        if (name.startsWith(setPrefix)) {
          kernel.put(name, Integer.parseInt(line.substring(19).strip()));
        }
        name = null;
      }
    }
    Map<String, Integer> written = new HashMap<>();
    applied.get().ipsets().forEach((n, s) -> written.put(n, s.entries().size()));
    return !kernel.equals(written);
  }

  /** An ipset entry without its options ({@code nomatch}), as {@code ipset del} wants it. */
  private static String key(String entry) {
    int sp = entry.indexOf(' ');
    return sp < 0 ? entry : entry.substring(0, sp);
  }

  private static List<String> gone(Map<String, List<String>> want, Map<String, List<String>> have) {
    return have.keySet().stream().filter(c -> !want.containsKey(c)).sorted().toList();
  }

  /** Our chains in the kernel, with their rules as the kernel prints them. */
  private Map<String, List<String>> kernelChains(String table) {
    return IptablesChains.parse(
        Command.run(argv(IptablesWriter.tool(family, "iptables-save"), "-t", table)),
        c -> c.startsWith("tweed-"));
  }

  private Map<String, Ipset> kernelSets() {
    Map<String, String> types = new HashMap<>();
    Map<String, Set<String>> entries = new HashMap<>();
    Matcher m = setLine.matcher(Command.run(argv("ipset", "save")));
    while (m.find()) {
      if (m.group(1).equals("create")) {
        types.put(m.group(2), m.group(3).split(" ")[0]);
        entries.put(m.group(2), new TreeSet<>());
      } else {
        entries.computeIfAbsent(m.group(2), k -> new TreeSet<>()).add(m.group(3));
      }
    }
    Map<String, Ipset> out = new HashMap<>();
    types.forEach(
        (name, type) ->
            out.put(
                name,
                new Ipset(
                    name,
                    type,
                    entries.get(name).stream()
                        .map(e -> asRendered(type, e))
                        .collect(Collectors.toCollection(TreeSet::new)))));
    return out;
  }

  /**
   * An entry as the renderer writes it. {@code ipset save} prints a host entry of a hash:net set
   * without its /32 ("10.244.1.5 nomatch"); read literally, a full sync would see a different
   * entry, add the rendered one (a no-op) and then delete the kernel's one, which is the same
   * element, silently dropping an ipBlock's {@code except}.
   */
  static String asRendered(String type, String entry) {
    if (!type.equals("hash:net")) {
      return entry;
    }
    int sp = entry.indexOf(' ');
    String addr = sp < 0 ? entry : entry.substring(0, sp);
    return addr.contains("/")
        ? entry
        : addr + "/" + IpFamily.of(addr).bits() + (sp < 0 ? "" : entry.substring(sp));
  }

  private List<String> argv(String... cmd) {
    List<String> out = new ArrayList<>(prefix);
    out.addAll(List.of(cmd));
    return out;
  }
}
