package dev.tweed.dataplane;

import dev.tweed.proxy.NftablesRuleset;
import dev.tweed.sys.Command;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Applies a rendered nftables ruleset (the service proxy's or the policy's table) in one
 * transaction: as a netlink batch written from Java, or by {@code nft -f}, as kube-proxy's nftables
 * mode does (benchmarks and tests compare the two; a script the netlink compiler refuses falls back
 * to it). A full sync replaces the table whole when its rules changed or drifted in the kernel (and
 * leaves it alone, rule handles and all, when they did not); a partial sync touches only the
 * service ports that changed: their old map elements are deleted, their chains flushed (or deleted
 * when gone), and their new chains, rules and elements added. A failed transaction changes nothing
 * and makes the next sync a full one.
 */
public final class NftablesWriter {
  private static final Pattern ELEMENT =
      Pattern.compile("^add element (\\S+ \\S+) (\\S+) \\{ (.*) \\}$");
  private static final Pattern DECLARATION = Pattern.compile("^add (chain|set) (\\S+ \\S+) (\\S+)");
  private final List<String> prefix;
  private final NftScriptApplier applier;
  private Optional<NftablesRuleset> applied = Optional.empty();

  /** The table as a full sync listed it after the last write: the reference for drift. */
  private Optional<String> kernelListing = Optional.empty();

  private NftablesWriter(List<String> commandPrefix, NftScriptApplier applier) {
    this.prefix = List.copyOf(commandPrefix);
    this.applier = applier;
  }

  /** In the caller's namespace, writing by netlink batches. */
  public static NftablesWriter here() {
    return new NftablesWriter(
        List.of(),
        new NftScriptApplier.Netlink(Optional.empty(), new NftScriptApplier.Nft(List.of())));
  }

  /** In {@code netns}, writing by netlink batches or, with {@code nft}, by {@code nft -f}. */
  public static NftablesWriter inNamespace(String netns, boolean nft) {
    return inNamespace(netns, nft, 120);
  }

  /** The same, {@code nft -f} given {@code nftTimeoutSeconds} (benchmarks at 10,000 services). */
  public static NftablesWriter inNamespace(String netns, boolean nft, long nftTimeoutSeconds) {
    List<String> prefix = List.of("ip", "netns", "exec", netns);
    NftScriptApplier.Nft byNft = new NftScriptApplier.Nft(prefix, nftTimeoutSeconds);
    return new NftablesWriter(
        prefix,
        nft
            ? byNft
            : new NftScriptApplier.Netlink(
                Optional.of(dev.tweed.sys.NetworkNamespace.pathOf(netns)), byNft));
  }

  /** "nft" or "netlink". */
  public String writer() {
    return applier.name();
  }

  /** Returns {services written, transaction nanoseconds}. */
  public IptablesWriter.SyncStats sync(NftablesRuleset ruleset, boolean full) {
    boolean doFull = full || applied.isEmpty() || !applied.get().base().equals(ruleset.base());
    if (doFull && applied.isPresent() && applied.get().equals(ruleset) && !drifted(ruleset)) {
      // Nothing to write: replacing the table anyway would renumber every rule for nothing.
      return new IptablesWriter.SyncStats(true, 0, 0, 0);
    }
    String script;
    int written;
    if (doFull) {
      script = ruleset.replaceScript();
      written = ruleset.services().size();
    } else {
      StringBuilder sb = new StringBuilder();
      written = partial(applied.get().services(), ruleset.services(), sb);
      script = sb.toString();
    }
    long start = System.nanoTime();
    if (!script.isEmpty()) {
      try {
        applier.apply(script);
      } catch (RuntimeException e) {
        applied = Optional.empty();
        throw e;
      }
    }
    long nanos = System.nanoTime() - start;
    applied = Optional.of(ruleset);
    kernelListing = Optional.empty();
    return new IptablesWriter.SyncStats(doFull, written, 0, nanos);
  }

  /**
   * Whether the kernel's table differs from what it was at the first full sync after the last
   * write. That first listing is taken as the reference (nft prints its own normal form, not the
   * script), so drift in between is repaired one full sync later.
   */
  private boolean drifted(NftablesRuleset ruleset) {
    Command.Result r =
        Command.exec(argv("nft", "-s", "list", "table", "ip", ruleset.table()), "", Map.of());
    if (!r.ok()) {
      return true;
    }
    String now = withoutDynamicElements(r.stdout());
    if (kernelListing.isEmpty()) {
      kernelListing = Optional.of(now);
      return false;
    }
    return !kernelListing.get().equals(now);
  }

  /**
   * A listing without the elements of dynamic sets (ClientIP affinity), which traffic fills and
   * timeouts empty: they are state, not configuration.
   */
  static String withoutDynamicElements(String listing) {
    StringBuilder out = new StringBuilder();
    boolean inDynamicSet = false;
    boolean inElements = false;
    for (String line : listing.split("\n")) {
      String t = line.strip();
      if (t.endsWith("{") && !t.startsWith("elements")) {
        inDynamicSet = false; // a new set, map or chain
      } else if (t.startsWith("flags ") && t.contains("dynamic")) {
        inDynamicSet = true;
      }
      if (inDynamicSet && t.startsWith("elements = {")) {
        inElements = !t.endsWith("}");
        continue;
      }
      if (inElements) {
        inElements = !t.endsWith("}");
        continue;
      }
      out.append(line).append('\n');
    }
    return out.toString();
  }

  private static int partial(
      Map<String, List<String>> before, Map<String, List<String>> after, StringBuilder sb) {
    Set<String> changed = new HashSet<>();
    for (String k : before.keySet()) {
      if (!before.get(k).equals(after.get(k))) {
        changed.add(k);
      }
    }
    for (String k : after.keySet()) {
      if (!before.containsKey(k)) {
        changed.add(k);
      }
    }
    // An element that an unchanged block still adds stays (the ports of one Service share their
    // ClusterIP's element); one that several changed blocks had is deleted once (a transaction
    // that deletes an element twice is refused).
    Set<String> kept = new HashSet<>();
    after.forEach(
        (k, lines) -> {
          if (!changed.contains(k)) {
            for (String l : lines) {
              Matcher e = ELEMENT.matcher(l);
              if (e.find()) {
                for (String element : elements(e.group(3))) {
                  kept.add(e.group(2) + " " + key(element));
                }
              }
            }
          }
        });
    Set<String> deletes = new java.util.LinkedHashSet<>();
    List<String> flushes = new ArrayList<>();
    List<String> removals = new ArrayList<>();
    List<String> elementAdds = new ArrayList<>();
    Set<String> rewritten = new HashSet<>();
    for (String k : changed) {
      List<String> old = before.getOrDefault(k, List.of());
      List<String> now = after.getOrDefault(k, List.of());
      if (!old.isEmpty() && !now.isEmpty() && withoutElements(old).equals(withoutElements(now))) {
        // Only elements changed (a pod relabelled changes the members of a policy's sets): they
        // are changed alone. The kernel then validates no chain, as it must after a rule is added.
        Set<String> oldElements = elementLines(old);
        Set<String> newElements = elementLines(now);
        for (String e : oldElements) {
          if (!newElements.contains(e)) {
            String[] w = e.split(" ", 3); // table family, table name + set, element
            deleteElement(deletes, kept, w[0], w[1], w[2]);
          }
        }
        for (String e : newElements) {
          if (!oldElements.contains(e)) {
            String[] w = e.split(" ", 3);
            elementAdds.add(
                "add element " + w[0].replace('|', ' ') + " " + w[1] + " { " + w[2] + " }");
          }
        }
        continue;
      }
      rewritten.add(k);
      Set<String> newDecls = new HashSet<>();
      for (String l : now) {
        Matcher d = DECLARATION.matcher(l);
        if (d.find()) {
          newDecls.add(d.group(1) + " " + d.group(3));
        }
      }
      for (String l : old) {
        Matcher e = ELEMENT.matcher(l);
        if (e.find()) {
          for (String element : elements(e.group(3))) {
            deleteElement(deletes, kept, e.group(1).replace(' ', '|'), e.group(2), element);
          }
          continue;
        }
        Matcher d = DECLARATION.matcher(l);
        if (d.find()) {
          String what = d.group(1);
          String name = d.group(3);
          if (what.equals("chain")) {
            flushes.add("flush chain " + d.group(2) + " " + name);
          }
          if (!newDecls.contains(what + " " + name)) {
            removals.add("delete " + what + " " + d.group(2) + " " + name);
          }
        }
      }
    }
    deletes.forEach(l -> sb.append(l).append('\n'));
    flushes.forEach(l -> sb.append(l).append('\n'));
    // Chains before sets: a flushed chain no longer refers to an affinity set.
    removals.stream()
        .filter(l -> l.startsWith("delete chain"))
        .forEach(l -> sb.append(l).append('\n'));
    removals.stream()
        .filter(l -> l.startsWith("delete set"))
        .forEach(l -> sb.append(l).append('\n'));
    // Declarations of every changed block first: a rule in one block may jump to a chain that
    // another block declares.
    List<String> written = new ArrayList<>();
    for (String k : rewritten) {
      if (after.containsKey(k)) {
        written.addAll(after.get(k));
      }
    }
    written.addAll(elementAdds);
    NftablesRuleset.appendBlock(sb, written);
    return changed.size();
  }

  private static void deleteElement(
      Set<String> deletes, Set<String> kept, String table, String set, String element) {
    if (!kept.contains(set + " " + key(element))) {
      deletes.add(
          "delete element " + table.replace('|', ' ') + " " + set + " { " + key(element) + " }");
    }
  }

  /** A block's lines other than its elements. */
  private static List<String> withoutElements(List<String> lines) {
    return lines.stream().filter(l -> !ELEMENT.matcher(l).find()).toList();
  }

  /** A block's elements, one each: "FAMILY|TABLE SET ELEMENT". */
  private static Set<String> elementLines(List<String> lines) {
    Set<String> out = new java.util.LinkedHashSet<>();
    for (String l : lines) {
      Matcher e = ELEMENT.matcher(l);
      if (e.find()) {
        for (String element : elements(e.group(3))) {
          out.add(e.group(1).replace(' ', '|') + " " + e.group(2) + " " + element);
        }
      }
    }
    return out;
  }

  /** The elements of an {@code add element}'s braces: split at commas outside quotes. */
  static List<String> elements(String list) {
    List<String> out = new ArrayList<>();
    StringBuilder cur = new StringBuilder();
    boolean quoted = false;
    for (char c : list.toCharArray()) {
      if (c == '"') {
        quoted = !quoted;
      }
      if (c == ',' && !quoted) {
        out.add(cur.toString().strip());
        cur.setLength(0);
      } else {
        cur.append(c);
      }
    }
    if (!cur.toString().isBlank()) {
      out.add(cur.toString().strip());
    }
    return out;
  }

  /** The key of a set or map element: without its verdict and comment. */
  static String key(String element) {
    String k = element;
    int verdict = k.indexOf(" : ");
    if (verdict >= 0) {
      k = k.substring(0, verdict);
    }
    int comment = k.indexOf(" comment ");
    return comment >= 0 ? k.substring(0, comment) : k;
  }

  private List<String> argv(String... cmd) {
    List<String> out = new ArrayList<>(prefix);
    out.addAll(List.of(cmd));
    return out;
  }
}
