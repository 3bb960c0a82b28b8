package dev.tweed.dataplane;

import dev.tweed.dataplane.nftnl.NftBatchOrder;
import dev.tweed.rules.BlockChange;
import dev.tweed.rules.NftablesRuleset;
import dev.tweed.rules.nft.NftCommand;
import dev.tweed.rules.nft.NftElement;
import dev.tweed.sys.Command;
import dev.tweed.sys.NetworkNamespace;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

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
  private final List<String> prefix;
  private final NftApplier applier;
  private Optional<NftablesRuleset> applied = Optional.empty();

  /** The table as a full sync listed it after the last write: the reference for drift. */
  private Optional<String> kernelListing = Optional.empty();

  private NftablesWriter(List<String> commandPrefix, NftApplier applier) {
    this.prefix = List.copyOf(commandPrefix);
    this.applier = applier;
  }

  /** In the caller's namespace, writing by netlink batches. */
  public static NftablesWriter here() {
    return new NftablesWriter(List.of(), new NftApplier.Netlink(Optional.empty()));
  }

  /** In {@code netns}, writing by netlink batches or, with {@code nft}, by {@code nft -f}. */
  public static NftablesWriter inNamespace(String netns, boolean nft) {
    return inNamespace(netns, nft, 120);
  }

  /** The same, {@code nft -f} given {@code nftTimeoutSeconds} (benchmarks at 10,000 services). */
  public static NftablesWriter inNamespace(String netns, boolean nft, long nftTimeoutSeconds) {
    List<String> prefix = List.of("ip", "netns", "exec", netns);
    return new NftablesWriter(
        prefix,
        nft
            ? new NftApplier.Nft(prefix, nftTimeoutSeconds)
            : new NftApplier.Netlink(Optional.of(NetworkNamespace.pathOf(netns))));
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
      NftablesRuleset ruleset, List<BlockChange<List<NftCommand>>> changes, boolean full) {
    return write(ruleset, Optional.of(changes), full);
  }

  private IptablesWriter.SyncStats write(
      NftablesRuleset ruleset,
      Optional<List<BlockChange<List<NftCommand>>>> changes,
      boolean full) {
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
      nanos = commit(ruleset, repair.get().commands());
      written = repair.get().objects();
    } else if (doFull && !sameBase) {
      nanos = commit(ruleset, writeWhole(ruleset));
      written = ruleset.services().size();
    } else {
      // A partial sync, or a full one whose changes since the last write are known: they are
      // written as a partial sync writes them; drift is looked for at the next full sync.
      partialWrite = true;
      // A full sync does not trust the changes it is told: it compares every block.
      List<BlockChange<List<NftCommand>>> changed =
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
        List<NftCommand> transaction = new ArrayList<>();
        written +=
            partial(
                changed.subList(from, Math.min(changed.size(), from + step)),
                elementRefs,
                transaction);
        nanos += commit(ruleset, transaction);
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
   * Applies one transaction of a sync; returns the kernel's nanoseconds. A refused one forgets the
   * table, so that the next sync writes it whole.
   */
  private long commit(NftablesRuleset ruleset, List<NftCommand> commands) {
    if (commands.isEmpty()) {
      return 0;
    }
    try {
      return applier.apply(ruleset.family(), commands);
    } catch (RuntimeException e) {
      if (!(commands.getFirst() instanceof NftCommand.AddTable)
          || commands.equals(ruleset.replaceCommands())) {
        applied = Optional.empty();
        throw e;
      }
      // A table rewritten in place that the kernel refused (one of another layout): replaced.
      LOG.warn("event=nft-rewrite-refused action=replace-table reason=\"{}\"", e.getMessage());
      try {
        return applier.apply(ruleset.family(), ruleset.replaceCommands());
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
  private List<NftCommand> writeWhole(NftablesRuleset ruleset) {
    int size = ruleset.base().size();
    for (List<NftCommand> block : ruleset.services().values()) {
      size += block.size();
    }
    if (!applier.name().equals("netlink") || size < rewriteInPlaceLines) {
      return ruleset.replaceCommands();
    }
    Optional<String> listing = listing(ruleset);
    if (listing.isEmpty()) {
      return ruleset.replaceCommands();
    }
    NftListing current = NftListing.parse(listing.get());
    Repair all = rewrite(ruleset, new NftListing(Map.of("table", "")), current, true);
    List<NftCommand> commands = new ArrayList<>();
    ruleset.base().stream()
        .filter(c -> c instanceof NftCommand.AddTable)
        .findFirst()
        .ifPresent(commands::add); // the table itself
    commands.addAll(all.commands());
    return NftBatchOrder.ordered(commands);
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
        Command.exec(
            argv(
                "nft", "-s", "list", "table", NftCommand.family(ruleset.family()), ruleset.table()),
            "",
            Map.of());
    return r.ok() ? Optional.of(r.stdout()) : Optional.empty();
  }

  /** The commands that rewrite what drifted, and how many chains and sets they rewrite. */
  record Repair(List<NftCommand> commands, int objects) {}

  /**
   * What to write so that the kernel's table is again what the first full sync after the last write
   * found (nft prints its own normal form, not the script, so that listing is the reference; drift
   * in between is repaired one full sync later): nothing when it has not drifted, the chains and
   * sets that differ when it has, the whole table when it is gone or its own properties changed.
   */
  private Optional<Repair> repair(NftablesRuleset ruleset) {
    Optional<String> listing = listing(ruleset);
    if (listing.isEmpty()) {
      return Optional.of(new Repair(ruleset.replaceCommands(), ruleset.services().size()));
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
      return Optional.of(new Repair(ruleset.replaceCommands(), ruleset.services().size()));
    }
    return Optional.of(rewrite(ruleset, reference, current, false));
  }

  /**
   * The chains and sets of {@code current} that differ from {@code reference} (with {@code all},
   * every one, and every one the ruleset declares), rewritten.
   */
  static Repair rewrite(
      NftablesRuleset ruleset, NftListing reference, NftListing current, boolean all) {
    String t = ruleset.table();
    Map<String, NftCommand> declarations = new HashMap<>();
    Map<String, List<NftCommand>> contents = new HashMap<>();
    List<NftCommand> desired = new ArrayList<>(ruleset.base());
    ruleset.services().values().forEach(desired::addAll);
    for (NftCommand c : desired) {
      switch (c) {
        case NftCommand.AddChain a -> declarations.putIfAbsent("chain " + a.name(), a);
        case NftCommand.AddSet a ->
            declarations.putIfAbsent((a.verdictMap() ? "map " : "set ") + a.name(), a);
        case NftCommand.AddRule r ->
            contents.computeIfAbsent("chain " + r.chain(), k -> new ArrayList<>()).add(r);
        case NftCommand.Elements e when !e.delete() ->
            contents.computeIfAbsent("elements " + e.set(), k -> new ArrayList<>()).add(e);
        default -> {}
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
    List<NftCommand> declare = new ArrayList<>();
    List<NftCommand> flush = new ArrayList<>();
    List<NftCommand> write = new ArrayList<>();
    List<NftCommand> deleteChains = new ArrayList<>();
    List<NftCommand> deleteSets = new ArrayList<>();
    int objects = 0;
    for (String key : keys) {
      String was = reference.objects().get(key);
      String is = current.objects().get(key);
      if (!all && Objects.equals(was, is)) {
        continue;
      }
      objects++;
      String[] kn = key.split(" ", 2);
      NftCommand.Kind kind = NftCommand.Kind.valueOf(kn[0].toUpperCase(Locale.ROOT));
      String of = kind == NftCommand.Kind.CHAIN ? key : "elements " + kn[1];
      if (!declarations.containsKey(key) && !contents.containsKey(of)) {
        // Not Tweed's: emptied first, removed once nothing of the table refers to it.
        if (kind == NftCommand.Kind.CHAIN) {
          flush.add(new NftCommand.Flush(kind, t, kn[1]));
          deleteChains.add(new NftCommand.Delete(kind, t, kn[1]));
        } else {
          deleteSets.add(new NftCommand.Delete(kind, t, kn[1]));
        }
        continue;
      }
      NftCommand declaration = declarations.get(key);
      if (is == null
          || declaration instanceof NftCommand.AddSet
          || declaration instanceof NftCommand.AddChain c && c.hook().isPresent()) {
        // Missing, or a set, map or base chain that exists: declared again, so that a base
        // chain's policy is put back, and one whose type, hook or priority changed is refused by
        // the kernel (and, writing the table whole, the table replaced) instead of left as it
        // was. A regular chain has nothing to differ in but its rules.
        if (declaration != null) {
          declare.add(declaration instanceof NftCommand.AddChain c ? c.withPolicy() : declaration);
        }
      }
      if (is != null) {
        flush.add(new NftCommand.Flush(kind, t, kn[1]));
      }
      write.addAll(contents.getOrDefault(of, List.of()));
    }
    List<NftCommand> out = new ArrayList<>();
    for (List<NftCommand> part : List.of(declare, flush, write, deleteChains, deleteSets)) {
      out.addAll(part);
    }
    return new Repair(out, objects);
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
  private static List<BlockChange<List<NftCommand>>> changes(
      Map<String, List<NftCommand>> before, Map<String, List<NftCommand>> after) {
    List<BlockChange<List<NftCommand>>> out = new ArrayList<>();
    for (var e : before.entrySet()) {
      List<NftCommand> now = after.get(e.getKey());
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
    ruleset.services().values().forEach(commands -> count(refs, commands, 1));
    return refs;
  }

  private static void count(Map<String, Integer> refs, List<NftCommand> commands, int delta) {
    for (SetElement e : elements(commands)) {
      refs.merge(e.refKey(), delta, (a, b) -> a + b == 0 ? null : a + b);
    }
  }

  /** One element of one of the table's sets or maps. */
  private record SetElement(String table, String set, NftElement element) {
    /** "SET KEY": what the element counts are kept by. */
    String refKey() {
      return set + " " + element.keyScript();
    }

    NftCommand add() {
      return new NftCommand.Elements(false, table, set, List.of(element));
    }

    /** The element's removal, named by its key alone, as {@code delete element} takes it. */
    NftCommand delete() {
      return new NftCommand.Elements(
          true,
          table,
          set,
          List.of(new NftElement(element.key(), Optional.empty(), Optional.empty())));
    }
  }

  private static int partial(
      List<BlockChange<List<NftCommand>>> changes,
      Map<String, Integer> refs,
      List<NftCommand> out) {
    // The elements the changed blocks had are no longer counted; one that no other block adds is
    // deleted (once: a transaction that deletes an element twice is refused), and added again
    // below if a changed block still has it.
    changes.forEach(c -> c.before().ifPresent(commands -> count(refs, commands, -1)));
    Map<String, NftCommand> deletes = new LinkedHashMap<>();
    List<NftCommand> flushes = new ArrayList<>();
    List<NftCommand> removeChains = new ArrayList<>();
    List<NftCommand> removeSets = new ArrayList<>();
    List<NftCommand> elementAdds = new ArrayList<>();
    List<NftCommand> written = new ArrayList<>();
    for (BlockChange<List<NftCommand>> c : changes) {
      List<NftCommand> old = c.before().orElse(List.of());
      List<NftCommand> now = c.after().orElse(List.of());
      if (!old.isEmpty() && !now.isEmpty() && withoutElements(old).equals(withoutElements(now))) {
        // Only elements changed (a pod relabelled changes the members of a policy's sets): they
        // are changed alone. The kernel then validates no chain, as it must after a rule is added.
        Set<SetElement> oldElements = elements(old);
        Set<SetElement> newElements = elements(now);
        for (SetElement e : oldElements) {
          if (!newElements.contains(e)) {
            deleteElement(deletes, refs, e);
          }
        }
        for (SetElement e : newElements) {
          if (!oldElements.contains(e)) {
            elementAdds.add(e.add());
          }
        }
        continue;
      }
      written.addAll(now);
      Set<String> newDeclarations = new HashSet<>();
      for (NftCommand n : now) {
        declared(n).ifPresent(newDeclarations::add);
      }
      for (NftCommand o : old) {
        switch (o) {
          case NftCommand.Elements e when !e.delete() ->
              e.elements()
                  .forEach(
                      x -> deleteElement(deletes, refs, new SetElement(e.table(), e.set(), x)));
          case NftCommand.AddChain a -> {
            flushes.add(new NftCommand.Flush(NftCommand.Kind.CHAIN, a.table(), a.name()));
            if (!newDeclarations.contains(declared(a).orElseThrow())) {
              removeChains.add(new NftCommand.Delete(NftCommand.Kind.CHAIN, a.table(), a.name()));
            }
          }
          case NftCommand.AddSet a -> {
            if (!newDeclarations.contains(declared(a).orElseThrow())) {
              removeSets.add(
                  new NftCommand.Delete(
                      a.verdictMap() ? NftCommand.Kind.MAP : NftCommand.Kind.SET,
                      a.table(),
                      a.name()));
            }
          }
          default -> {}
        }
      }
    }
    changes.forEach(c -> c.after().ifPresent(commands -> count(refs, commands, 1)));
    out.addAll(deletes.values());
    out.addAll(flushes);
    // Chains before sets: a flushed chain no longer refers to an affinity set.
    out.addAll(removeChains);
    out.addAll(removeSets);
    // Declarations of every changed block first: a rule in one block may jump to a chain that
    // another block declares.
    written.addAll(elementAdds);
    out.addAll(NftablesRuleset.declarationsFirst(written));
    return changes.size();
  }

  /** "chain NAME" or "set NAME" for a command that declares one. */
  private static Optional<String> declared(NftCommand c) {
    return switch (c) {
      case NftCommand.AddChain a -> Optional.of("chain " + a.name());
      case NftCommand.AddSet a -> Optional.of("set " + a.name());
      default -> Optional.empty();
    };
  }

  private static void deleteElement(
      Map<String, NftCommand> deletes, Map<String, Integer> refs, SetElement e) {
    if (refs.containsKey(e.refKey())) {
      return; // another block still adds it
    }
    deletes.putIfAbsent(e.refKey(), e.delete());
  }

  /** A block's commands other than its elements. */
  private static List<NftCommand> withoutElements(List<NftCommand> commands) {
    return commands.stream().filter(c -> !(c instanceof NftCommand.Elements)).toList();
  }

  /** A block's elements, one each. */
  private static Set<SetElement> elements(List<NftCommand> commands) {
    Set<SetElement> out = new LinkedHashSet<>();
    for (NftCommand c : commands) {
      if (c instanceof NftCommand.Elements e && !e.delete()) {
        for (NftElement x : e.elements()) {
          out.add(new SetElement(e.table(), e.set(), x));
        }
      }
    }
    return out;
  }

  private List<String> argv(String... cmd) {
    List<String> out = new ArrayList<>(prefix);
    out.addAll(List.of(cmd));
    return out;
  }
}
