package dev.tweed.trace;

import dev.tweed.kernel.NetnsState;
import dev.tweed.kernel.netfilter.PacketContext;
import dev.tweed.kernel.netfilter.XtChainEvaluator;
import dev.tweed.kernel.netfilter.XtOutcome;
import dev.tweed.kernel.netfilter.XtStep;
import dev.tweed.kernel.netfilter.XtTable;
import dev.tweed.kernel.nftables.NftChainEvaluator;
import dev.tweed.kernel.nftables.NftRuleset;
import dev.tweed.model.IpFamily;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A netfilter hook as the kernel runs it: every base chain registered on it (iptables' tables and
 * nftables' base chains) in priority order, NAT chains only for a connection's first packet, and
 * each random rule forking the walk.
 */
final class NetfilterHooks {
  /** Tables of each hook in the kernel's priority order (raw -300, mangle -150, nat ±100...). */
  private static final Map<String, List<String>> HOOK_TABLES =
      Map.of(
          "PREROUTING", List.of("raw", "mangle", "nat"),
          "INPUT", List.of("mangle", "filter", "security", "nat"),
          "FORWARD", List.of("mangle", "filter", "security"),
          "OUTPUT", List.of("raw", "mangle", "nat", "filter", "security"),
          "POSTROUTING", List.of("mangle", "nat"));

  private final TraceWorld world;
  private final Endings endings;

  NetfilterHooks(TraceWorld world, Endings endings) {
    this.world = world;
    this.endings = endings;
  }

  /**
   * Runs the tables of a hook in order; returns the walks that continue and the outcomes that ended
   * here (a DROP or REJECT).
   */
  HookResult run(NetnsState ns, Walk w, String hook, Optional<String> iif, Optional<String> oif) {
    return run(ns, w, hook, iif, oif, false);
  }

  /** {@code natDecided}: the connection's NAT was already decided in this namespace. */
  HookResult run(
      NetnsState ns,
      Walk w,
      String hook,
      Optional<String> iif,
      Optional<String> oif,
      boolean natDecided) {
    return run(ns, w, hook, iif, oif, natDecided, Optional.empty(), Optional.empty());
  }

  /** A hook run by br_netfilter for a bridged packet: {@code physIn}/{@code physOut} are ports. */
  HookResult run(
      NetnsState ns,
      Walk w,
      String hook,
      Optional<String> iif,
      Optional<String> oif,
      boolean natDecided,
      Optional<String> physIn,
      Optional<String> physOut) {
    IpFamily family = w.packet().family();
    Map<String, XtTable> tables = world.iptables(ns.name(), family);
    NftRuleset nft = world.nftables(ns.name());
    List<HookUnit> units = hookUnits(family, hook, tables, nft);
    for (int i = 1; i < units.size(); i++) {
      HookUnit a = units.get(i - 1);
      HookUnit b = units.get(i);
      if (a.prio() == b.prio() && a.hasRules() && b.hasRules()) {
        // The kernel runs equal priorities in hook registration order (the later first), which
        // changes when a table is rewritten and which no listing shows.
        w =
            w.uncertain(
                a.table()
                    + " and "
                    + b.table()
                    + " both run on "
                    + hook
                    + " at priority "
                    + a.prio()
                    + ": their order is not in the capture (assumed "
                    + a.table()
                    + " first)");
      }
    }
    List<Walk> live = new ArrayList<>(List.of(w));
    List<Outcome> ended = new ArrayList<>();
    boolean dnatBefore = w.dnat();
    boolean snatBefore = w.snat();
    for (HookUnit unit : units) {
      List<Walk> next = new ArrayList<>();
      for (Walk a : live) {
        boolean natDone = a.dnat() != dnatBefore || a.snat() != snatBefore;
        if (unit.nat() && (natDecided || natDone || !a.ctState().equals("NEW"))) {
          // NAT is decided on a connection's first packet only, by the first chain that binds it.
          next.add(a);
          continue;
        }
        PacketContext ctx =
            new PacketContext(
                a.packet(),
                hook,
                iif,
                oif,
                a.ctState(),
                a.original(),
                a.dnat(),
                a.snat(),
                ns,
                world.ipsets(ns.name()),
                physIn,
                physOut);
        List<XtOutcome> outcomes =
            unit.nft().isPresent()
                ? NftChainEvaluator.evaluate(nft, unit.nft().get(), ctx)
                : XtChainEvaluator.evaluate(unit.iptables().orElseThrow(), hook, ctx);
        String tname = unit.table();
        for (XtOutcome x : outcomes) {
          List<Hop> hops = new ArrayList<>();
          for (XtStep s : x.steps()) {
            hops.add(
                new Hop(
                    ns.name(),
                    "netfilter",
                    hook.equals("PREROUTING") || hook.equals("INPUT") ? iif : oif,
                    Optional.of(hook),
                    Optional.of(s.table()),
                    Optional.of(s.chain()),
                    s.position(),
                    s.rule(),
                    s.action() + s.note().map(n -> " (" + n + ")").orElse(""),
                    Optional.of(a.packet()),
                    unit.nat(),
                    Optional.empty()));
          }
          Walk b =
              a.netfilter(
                  x.ctx().packet(),
                  x.ctx().dnat(),
                  x.ctx().snat(),
                  x.ctx().ctState().equals("UNTRACKED") ? "UNTRACKED" : a.ctState(),
                  x.probability(),
                  x.forks(),
                  hops,
                  x.nat(),
                  x.uncertainties());
          switch (x.verdict()) {
            case DROP ->
                ended.add(
                    endings.finish(
                        b,
                        "dropped",
                        "dropped by "
                            + tname
                            + "/"
                            + x.deciding()
                                .map(r -> r.chain() + " rule " + r.position())
                                .orElse(hook + " policy"),
                        x.deciding().map(r -> r.text()),
                        Optional.empty()));
            case REJECT ->
                ended.add(
                    endings.finish(
                        b,
                        "rejected",
                        "rejected by "
                            + tname
                            + "/"
                            + x.deciding()
                                .map(r -> r.chain() + " rule " + r.position())
                                .orElse(hook)
                            + " with "
                            + x.rejectWith()
                                .orElse(
                                    family == IpFamily.IPV4
                                        ? "icmp-port-unreachable"
                                        : "icmp6-port-unreachable"),
                        x.deciding().map(r -> r.text()),
                        Optional.empty()));
            case ACCEPT, RETURN -> next.add(b);
          }
        }
      }
      live = next;
    }
    return new HookResult(live, ended);
  }

  /**
   * One base chain a hook runs: an iptables table's built-in chain, or an nftables base chain.
   *
   * @param order the table's creation order (ties in priority run the later-created first)
   */
  private record HookUnit(
      String hook,
      String table,
      Optional<XtTable> iptables,
      Optional<NftRuleset.Chain> nft,
      boolean nat,
      int prio,
      int order) {
    boolean hasRules() {
      return nft.map(c -> !c.rules().isEmpty())
          .orElseGet(
              () ->
                  iptables
                      .flatMap(t -> t.chain(hook))
                      .map(c -> !c.rules().isEmpty())
                      .orElse(false));
    }
  }

  /** iptables' table priorities (NF_IP_PRI_*), for rule sets not listed by nft (legacy). */
  private static int iptablesPriority(String table, String hook) {
    return switch (table) {
      case "raw" -> -300;
      case "mangle" -> -150;
      case "nat" -> hook.equals("PREROUTING") || hook.equals("OUTPUT") ? -100 : 100;
      case "security" -> 50;
      default -> 0;
    };
  }

  /**
   * The base chains a packet of {@code family} passes on {@code hook}: iptables' or ip6tables'
   * tables (as iptables-nft lists them, in the {@code ip} or {@code ip6} family), and nftables' own
   * base chains of that family and of {@code inet}.
   */
  private static List<HookUnit> hookUnits(
      IpFamily family, String hook, Map<String, XtTable> tables, NftRuleset nft) {
    String own = family == IpFamily.IPV4 ? "ip" : "ip6";
    List<HookUnit> units = new ArrayList<>();
    for (String tname : HOOK_TABLES.get(hook)) {
      XtTable table = tables.get(tname);
      if (table != null && table.chain(hook).isPresent()) {
        units.add(
            new HookUnit(
                hook,
                tname,
                Optional.of(table),
                Optional.empty(),
                tname.equals("nat"),
                iptablesPriority(tname, hook),
                nft.tableOrder(own, tname)));
      }
    }
    for (NftRuleset.Chain c : nft.baseChains(hook, family)) {
      boolean iptablesOwn = c.family().equals(own) && tables.containsKey(c.table());
      if (iptablesOwn || c.table().equals(TraceWorld.TRACE_TABLE)) {
        continue;
      }
      units.add(
          new HookUnit(
              hook,
              c.table(),
              Optional.empty(),
              Optional.of(c),
              c.type().equals("nat"),
              c.prio(),
              nft.tableOrder(c.family(), c.table())));
    }
    units.sort(
        Comparator.comparingInt(HookUnit::prio)
            .thenComparing(Comparator.comparingInt(HookUnit::order).reversed()));
    return units;
  }

  // ---- routing ------------------------------------------------------------------------------
}
