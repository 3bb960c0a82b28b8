package dev.tweed.dataplane;

import dev.tweed.dataplane.nftnl.NftBatchOrder;
import dev.tweed.rules.BlockChange;
import dev.tweed.rules.NftablesRuleset;
import dev.tweed.sys.Command;
import dev.tweed.sys.NetworkNamespace;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Applies a rendered nftables ruleset (the service proxy's or the policy's table) in one
 * transaction: as a netlink batch written from Java, or by {@code nft -f}, as kube-proxy's nftables
 * mode does (benchmarks and tests compare the two; a script the netlink compiler refuses falls back
 * to it). The first sync writes the table whole; a full sync after that writes what changed since
 * the last write and rewrites, chain by chain and set by set, what drifted in the kernel (and
 * leaves the rest alone, rule handles and all); a partial sync touches only the service ports that
 * changed: their old map elements are deleted, their chains flushed (or deleted when gone), and
 * their new chains, rules and elements added. A failed transaction changes nothing and makes the
 * next sync write the table whole.
 */
public final class NftablesWriter {
  private static final org.slf4j.Logger LOG =
      org.slf4j.LoggerFactory.getLogger(NftablesWriter.class);
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
            : new NftScriptApplier.Netlink(Optional.of(NetworkNamespace.pathOf(netns)), byNft));
  }

  private int rewriteInPlaceLines = REWRITE_IN_PLACE_LINES;

  /**
   * Rewrites an existing table in place (by netlink) from {@code lines} lines of ruleset on,
   * instead of from {@link #REWRITE_IN_PLACE_LINES}: tests use it on small tables.
   */
  public NftablesWriter rewritingInPlaceFrom(int lines) {
    this.rewriteInPlaceLines = lines;
    return this;
  }

  /** "nft" or "netlink". */
  public String writer() {
    return applier.name();
  }

  /** Writes what changed since the last sync, found by comparing every block with it. */
  public IptablesWriter.SyncStats sync(NftablesRuleset ruleset, boolean full) {
    return write(ruleset, Optional.empty(), full);
  }

  /**
   * Writes what changed since the last sync, told which blocks those are: a partial sync looks at
   * them alone, not at every block of the table.
   */
  public IptablesWriter.SyncStats sync(
      NftablesRuleset ruleset, List<BlockChange<List<String>>> changes, boolean full) {
    return write(ruleset, Optional.of(changes), full);
  }

  private IptablesWriter.SyncStats write(
      NftablesRuleset ruleset, Optional<List<BlockChange<List<String>>>> changes, boolean full) {
    boolean sameBase = applied.isPresent() && applied.get().base().equals(ruleset.base());
    boolean doFull = full || !sameBase;
    int written = 0;
    long nanos = 0;
    boolean partialWrite = false;
    if (doFull && sameBase && applied.get().equals(ruleset)) {
      // A scheduled full sync over the table this writer wrote: what drifted in the kernel is
      // rewritten chain by chain and set by set; replacing the table would renumber every rule
      // and, at 10,000 services, take minutes.
      Optional<Repair> repair = repair(ruleset);
      if (repair.isEmpty()) {
        return new IptablesWriter.SyncStats(true, 0, 0, 0);
      }
      nanos = commit(ruleset, repair.get().script());
      written = repair.get().objects();
    } else if (doFull && !sameBase) {
      nanos = commit(ruleset, writeWhole(ruleset));
      written = ruleset.services().size();
    } else {
      // A partial sync, or a full one whose changes since the last write are known: they are
      // written as a partial sync writes them; drift is looked for at the next full sync.
      partialWrite = true;
      // A full sync does not trust the changes it is told: it compares every block.
      List<BlockChange<List<String>>> changed =
          changes
              .filter(c -> !doFull)
              .orElseGet(() -> changes(applied.get().services(), ruleset.services()));
      // Where blocks stand alone, many at once (an agent starting on a cluster, a namespace of
      // Services created) are committed PARTIAL_BLOCKS at a time: each transaction holds whole
      // blocks, so each is consistent, and neither the script, its batch nor the kernel's walk of
      // the transaction grows with the cluster. A failed write forgets the table (the next one is
      // whole and counts again), so the element counts are changed in place.
      int step = blocksPerTransaction > 0 ? blocksPerTransaction : Math.max(1, changed.size());
      for (int from = 0; from < changed.size(); from += step) {
        StringBuilder sb = new StringBuilder();
        written +=
            partial(changed.subList(from, Math.min(changed.size(), from + step)), elementRefs, sb);
        nanos += commit(ruleset, sb.toString());
      }
    }
    if (!sameBase) {
      elementRefs = elementRefs(ruleset);
    }
    applied = Optional.of(ruleset);
    kernelListing = Optional.empty();
    return new IptablesWriter.SyncStats(doFull && !partialWrite, written, 0, nanos);
  }

  /** Blocks a partial sync commits in one transaction at most, where blocks stand alone. */
  static final int PARTIAL_BLOCKS = 1_000;

  private int blocksPerTransaction;

  /**
   * Declares that no block of this writer's table refers to another block's chains or sets (the
   * proxy's service ports do not; the policy table's endpoints jump to its policies' chains), so
   * that a partial sync of many blocks may be committed in several transactions.
   */
  public NftablesWriter blocksStandAlone() {
    return blocksStandAlone(PARTIAL_BLOCKS);
  }

  /** The same, committing {@code perTransaction} blocks at a time (tests use a few). */
  public NftablesWriter blocksStandAlone(int perTransaction) {
    this.blocksPerTransaction = perTransaction;
    return this;
  }

  /**
   * Applies one script of a sync; returns the kernel's nanoseconds. A refused one forgets the
   * table, so that the next sync writes it whole.
   */
  private long commit(NftablesRuleset ruleset, String script) {
    if (script.isEmpty()) {
      return 0;
    }
    try {
      return applier.apply(script);
    } catch (RuntimeException e) {
      if (!script.startsWith("add table ") || script.equals(ruleset.replaceScript())) {
        applied = Optional.empty();
        throw e;
      }
      // A table rewritten in place that the kernel refused (one of another layout): replaced.
      LOG.warn("event=nft-rewrite-refused action=replace-table reason=\"{}\"", e.getMessage());
      try {
        return applier.apply(ruleset.replaceScript());
      } catch (RuntimeException again) {
        applied = Optional.empty();
        throw again;
      }
    }
  }

  /**
   * The script that writes the table whole. nft -f replaces it (delete and add in one transaction,
   * as kube-proxy's layout is loaded). By netlink, a table that exists is rewritten in place
   * instead, chain by chain and set by set, in an order that keeps the kernel's walk of the
   * transaction short ({@link NftBatchOrder}): deleting the table first would put every one of its
   * rules in the transaction before the first new rule, and the kernel walks them all for each
   * anonymous set bound or unbound (minutes at 10,000 services).
   */
  private String writeWhole(NftablesRuleset ruleset) {
    int size = ruleset.base().size();
    for (List<String> block : ruleset.services().values()) {
      size += block.size();
    }
    if (!applier.name().equals("netlink") || size < rewriteInPlaceLines) {
      return ruleset.replaceScript();
    }
    Optional<String> listing = listing(ruleset);
    if (listing.isEmpty()) {
      return ruleset.replaceScript();
    }
    NftListing current = NftListing.parse(listing.get());
    Repair all = rewrite(ruleset, new NftListing(Map.of("table", "")), current, true);
    List<String> lines = new ArrayList<>();
    ruleset.base().stream()
        .filter(l -> l.startsWith("add table "))
        .findFirst()
        .ifPresent(lines::add); // the table itself
    lines.addAll(all.script().lines().toList());
    StringBuilder sb = new StringBuilder();
    NftBatchOrder.ordered(lines).forEach(l -> sb.append(l).append('\n'));
    return sb.toString();
  }

  /**
   * Below this size, reading the kernel's table to rewrite it in place costs more than the kernel's
   * extra work for a replacement (measured: 100 services, 4,000 lines, replaced in 0.13 s,
   * rewritten in 0.18 s; 1,000 services, 2.1 s and 1.3 s).
   */
  static final int REWRITE_IN_PLACE_LINES = 20_000;

  /** The kernel's listing of the ruleset's table (stateless), or empty if it has none. */
  private Optional<String> listing(NftablesRuleset ruleset) {
    Command.Result r =
        Command.exec(argv("nft", "-s", "list", "table", "ip", ruleset.table()), "", Map.of());
    return r.ok() ? Optional.of(r.stdout()) : Optional.empty();
  }

  /** A script that rewrites what drifted, and how many chains and sets it rewrites. */
  record Repair(String script, int objects) {}

  /**
   * What to write so that the kernel's table is again what the first full sync after the last write
   * found (nft prints its own normal form, not the script, so that listing is the reference; drift
   * in between is repaired one full sync later): nothing when it has not drifted, the chains and
   * sets that differ when it has, the whole table when it is gone or its own properties changed.
   */
  private Optional<Repair> repair(NftablesRuleset ruleset) {
    Optional<String> listing = listing(ruleset);
    if (listing.isEmpty()) {
      return Optional.of(new Repair(ruleset.replaceScript(), ruleset.services().size()));
    }
    String now = withoutDynamicElements(listing.get());
    if (kernelListing.isEmpty()) {
      kernelListing = Optional.of(now);
      return Optional.empty();
    }
    if (kernelListing.get().equals(now)) {
      return Optional.empty();
    }
    NftListing reference = NftListing.parse(kernelListing.get());
    NftListing current = NftListing.parse(now);
    if (!reference.objects().get("table").equals(current.objects().get("table"))) {
      return Optional.of(new Repair(ruleset.replaceScript(), ruleset.services().size()));
    }
    return Optional.of(rewrite(ruleset, reference, current, false));
  }

  private static final Pattern OBJECT_LINE =
      Pattern.compile("^add (chain|set|map|rule|element) \\S+ \\S+ (\\S+)");

  /**
   * The chains and sets of {@code current} that differ from {@code reference} (with {@code all},
   * every one, and every one the ruleset declares), rewritten.
   */
  static Repair rewrite(
      NftablesRuleset ruleset, NftListing reference, NftListing current, boolean all) {
    String t = "ip " + ruleset.table();
    Map<String, String> declarations = new HashMap<>();
    Map<String, List<String>> contents = new HashMap<>();
    List<String> desired = new ArrayList<>(ruleset.base());
    ruleset.services().values().forEach(desired::addAll);
    for (String l : desired) {
      Matcher m = OBJECT_LINE.matcher(l);
      if (!m.find()) {
        continue;
      }
      String what = m.group(1);
      String name = m.group(2);
      switch (what) {
        case "chain", "set", "map" -> declarations.putIfAbsent(what + " " + name, l);
        case "rule" -> contents.computeIfAbsent("chain " + name, k -> new ArrayList<>()).add(l);
        default -> contents.computeIfAbsent("elements " + name, k -> new ArrayList<>()).add(l);
      }
    }
    Set<String> keys = new TreeSet<>(reference.objects().keySet());
    keys.addAll(current.objects().keySet());
    if (all) {
      // Every object the ruleset declares or writes into (a rule for a chain it does not declare
      // is written, and refused by the kernel, as nft -f would refuse it).
      keys.addAll(declarations.keySet());
      for (String k : contents.keySet()) {
        String name = k.substring(k.indexOf(' ') + 1);
        keys.add(
            !k.startsWith("elements ")
                ? k
                : declarations.containsKey("map " + name) ? "map " + name : "set " + name);
      }
    }
    keys.remove("table");
    List<String> declare = new ArrayList<>();
    List<String> flush = new ArrayList<>();
    List<String> write = new ArrayList<>();
    List<String> deleteChains = new ArrayList<>();
    List<String> deleteSets = new ArrayList<>();
    int objects = 0;
    for (String key : keys) {
      String was = reference.objects().get(key);
      String is = current.objects().get(key);
      if (!all && Objects.equals(was, is)) {
        continue;
      }
      objects++;
      String[] kn = key.split(" ", 2);
      String of = kn[0].equals("chain") ? key : "elements " + kn[1];
      if (!declarations.containsKey(key) && !contents.containsKey(of)) {
        // Not Tweed's: emptied first, removed once nothing of the table refers to it.
        if (kn[0].equals("chain")) {
          flush.add("flush chain " + t + " " + kn[1]);
          deleteChains.add("delete chain " + t + " " + kn[1]);
        } else {
          deleteSets.add("delete " + kn[0] + " " + t + " " + kn[1]);
        }
        continue;
      }
      String declaration = declarations.get(key);
      if (is == null || (declaration != null && (!chain(key) || baseChain(declaration)))) {
        // Missing, or a set, map or base chain that exists: declared again, so that a base
        // chain's policy is put back, and one whose type, hook or priority changed is refused by
        // the kernel (and, writing the table whole, the table replaced) instead of left as it
        // was. A regular chain has nothing to differ in but its rules.
        if (declaration != null) {
          declare.add(withPolicy(declaration));
        }
      }
      if (is != null) {
        flush.add("flush " + kn[0] + " " + t + " " + kn[1]);
      }
      write.addAll(contents.getOrDefault(of, List.of()));
    }
    StringBuilder sb = new StringBuilder();
    for (List<String> part : List.of(declare, flush, write, deleteChains, deleteSets)) {
      part.forEach(l -> sb.append(l).append('\n'));
    }
    return new Repair(sb.toString(), objects);
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

  /** The blocks that differ between two renders of the table. */
  private static List<BlockChange<List<String>>> changes(
      Map<String, List<String>> before, Map<String, List<String>> after) {
    List<BlockChange<List<String>>> out = new ArrayList<>();
    for (var e : before.entrySet()) {
      List<String> now = after.get(e.getKey());
      if (!e.getValue().equals(now)) {
        out.add(new BlockChange<>(e.getKey(), Optional.of(e.getValue()), Optional.ofNullable(now)));
      }
    }
    for (var e : after.entrySet()) {
      if (!before.containsKey(e.getKey())) {
        out.add(new BlockChange<>(e.getKey(), Optional.empty(), Optional.of(e.getValue())));
      }
    }
    return out;
  }

  /**
   * How many blocks (and skeleton lines) add each element, by {@code SET KEY}: the ports of one
   * Service share their ClusterIP's element, which a partial sync deletes only when no block adds
   * it any more. Counted once per whole write and kept up to date by each partial one, so that a
   * partial sync does not read the other blocks.
   */
  private Map<String, Integer> elementRefs = new HashMap<>();

  private static Map<String, Integer> elementRefs(NftablesRuleset ruleset) {
    Map<String, Integer> refs = new HashMap<>();
    count(refs, ruleset.base(), 1);
    ruleset.services().values().forEach(lines -> count(refs, lines, 1));
    return refs;
  }

  private static void count(Map<String, Integer> refs, List<String> lines, int delta) {
    for (String e : elementLines(lines)) {
      refs.merge(refKey(e), delta, (a, b) -> a + b == 0 ? null : a + b);
    }
  }

  /** "FAMILY|TABLE SET ELEMENT" to "SET KEY". */
  private static String refKey(String elementLine) {
    String[] w = elementLine.split(" ", 3);
    return w[1] + " " + key(w[2]);
  }

  private static int partial(
      List<BlockChange<List<String>>> changes, Map<String, Integer> refs, StringBuilder sb) {
    // The elements the changed blocks had are no longer counted; one that no other block adds is
    // deleted (once: a transaction that deletes an element twice is refused), and added again
    // below if a changed block still has it.
    changes.forEach(c -> c.before().ifPresent(lines -> count(refs, lines, -1)));
    Map<String, String> deletes = new LinkedHashMap<>();
    List<String> flushes = new ArrayList<>();
    List<String> removals = new ArrayList<>();
    List<String> elementAdds = new ArrayList<>();
    List<String> written = new ArrayList<>();
    for (BlockChange<List<String>> c : changes) {
      List<String> old = c.before().orElse(List.of());
      List<String> now = c.after().orElse(List.of());
      if (!old.isEmpty() && !now.isEmpty() && withoutElements(old).equals(withoutElements(now))) {
        // Only elements changed (a pod relabelled changes the members of a policy's sets): they
        // are changed alone. The kernel then validates no chain, as it must after a rule is added.
        Set<String> oldElements = elementLines(old);
        Set<String> newElements = elementLines(now);
        for (String e : oldElements) {
          if (!newElements.contains(e)) {
            String[] w = e.split(" ", 3); // table family, table name + set, element
            deleteElement(deletes, refs, w[0], w[1], w[2]);
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
      written.addAll(now);
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
            deleteElement(deletes, refs, e.group(1).replace(' ', '|'), e.group(2), element);
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
    changes.forEach(c -> c.after().ifPresent(lines -> count(refs, lines, 1)));
    deletes.values().forEach(l -> sb.append(l).append('\n'));
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
    written.addAll(elementAdds);
    NftablesRuleset.appendBlock(sb, written);
    return changes.size();
  }

  /**
   * A base chain's declaration with its policy said: nft leaves an existing chain's policy alone
   * when the declaration does not name one, and the default (accept) is what Tweed's chains have.
   */
  static String withPolicy(String declaration) {
    if (!baseChain(declaration) || declaration.contains(" policy ")) {
      return declaration;
    }
    return declaration.replaceFirst(" ; }$", " ; policy accept ; }");
  }

  private static boolean baseChain(String declaration) {
    return declaration.startsWith("add chain ") && declaration.contains(" hook ");
  }

  private static boolean chain(String key) {
    return key.startsWith("chain ");
  }

  private static void deleteElement(
      Map<String, String> deletes,
      Map<String, Integer> refs,
      String table,
      String set,
      String element) {
    if (refs.containsKey(set + " " + key(element))) {
      return; // another block still adds it
    }
    deletes.putIfAbsent(
        set + " " + key(element),
        "delete element " + table.replace('|', ' ') + " " + set + " { " + key(element) + " }");
  }

  /** A block's lines other than its elements. */
  private static List<String> withoutElements(List<String> lines) {
    return lines.stream().filter(l -> !ELEMENT.matcher(l).find()).toList();
  }

  /** A block's elements, one each: "FAMILY|TABLE SET ELEMENT". */
  private static Set<String> elementLines(List<String> lines) {
    Set<String> out = new LinkedHashSet<>();
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
