package dev.tweed.kernel.netfilter;

import dev.tweed.kernel.Packet;
import dev.tweed.model.IpAddress;
import dev.tweed.model.IpFamily;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * Runs a packet through one table's built-in chain the way the kernel does: rules in order, jumps
 * and gotos into user chains, RETURN, the chain's policy, and the targets' effects (NAT, marks). A
 * random match forks the traversal; every branch is followed, with its probability.
 */
public final class XtChainEvaluator {
  private static final int MAX_DEPTH = 64;
  private static final Set<String> CONTINUING_TARGETS =
      Set.of("LOG", "NFLOG", "ULOG", "TRACE", "CHECKSUM", "TCPMSS", "DSCP", "TOS", "CLASSIFY");

  private XtChainEvaluator() {}

  /** A branch of the traversal in progress. */

  /** A branch that left a chain: by a verdict, or by returning to its caller. */
  private record Ended(
      Traversal flow, XtVerdict verdict, Optional<XtRule> rule, Optional<String> with) {}

  public static List<XtOutcome> evaluate(XtTable table, String builtin, PacketContext ctx) {
    Traversal start = Traversal.start(ctx);
    Optional<XtChain> chain = table.chain(builtin);
    if (chain.isEmpty()) {
      return List.of(
          new XtOutcome(
              ctx,
              1.0,
              List.of(),
              List.of(),
              List.of(),
              List.of(),
              XtVerdict.ACCEPT,
              Optional.empty(),
              Optional.empty()));
    }
    List<XtOutcome> out = new ArrayList<>();
    for (Ended e : run(table, chain.get(), start, 0)) {
      Traversal f = e.flow();
      XtVerdict v = e.verdict();
      Optional<XtRule> rule = e.rule();
      if (v == XtVerdict.RETURN) {
        String policy = chain.get().policy().orElse("ACCEPT");
        v = policy.equals("DROP") ? XtVerdict.DROP : XtVerdict.ACCEPT;
        f = f.step(XtStep.policy(table.name(), builtin, policy));
        rule = Optional.empty();
      }
      out.add(f.outcome(v, rule, e.with()));
    }
    return out;
  }

  private static List<Ended> run(XtTable table, XtChain chain, Traversal in, int depth) {
    List<Ended> ended = new ArrayList<>();
    if (depth > MAX_DEPTH) {
      ended.add(
          new Ended(
              in.uncertain("chain nesting deeper than " + MAX_DEPTH + " (a loop?)"),
              XtVerdict.DROP,
              Optional.empty(),
              Optional.empty()));
      return ended;
    }
    List<Traversal> alive = List.of(in);
    for (XtRule rule : chain.rules()) {
      List<Traversal> next = new ArrayList<>();
      for (Traversal f : alive) {
        MatchResult m = XtMatchEvaluator.evaluate(rule, f.ctx());
        switch (m) {
          case MatchResult.No no -> next.add(f);
          case MatchResult.Unknown u -> next.add(f.uncertain(u.why() + " (" + rule.text() + ")"));
          case MatchResult.Yes yes -> apply(table, rule, f, depth, next, ended);
          case MatchResult.Fork fork -> {
            Traversal taken = f.fork(0, fork.probability());
            int at = taken.steps().size();
            String note = "random branch, probability " + fmt(fork.probability());
            List<Traversal> nextHere = new ArrayList<>();
            List<Ended> endedHere = new ArrayList<>();
            apply(table, rule, taken, depth, nextHere, endedHere);
            nextHere.forEach(x -> next.add(x.noted(at, note)));
            endedHere.forEach(
                e ->
                    ended.add(
                        new Ended(e.flow().noted(at, note), e.verdict(), e.rule(), e.with())));
            if (fork.probability() < 1.0) {
              next.add(f.fork(1, 1 - fork.probability()));
            }
          }
        }
      }
      alive = next;
      if (alive.isEmpty()) {
        break;
      }
    }
    for (Traversal f : alive) {
      ended.add(new Ended(f, XtVerdict.RETURN, Optional.empty(), Optional.empty()));
    }
    return ended;
  }

  static String fmt(double p) {
    return String.format(Locale.ROOT, "%.4f", p).replaceAll("0+$", "").replaceAll("\\.$", "");
  }

  /** Applies a matched rule's target: continues into {@code next}, or ends into {@code ended}. */
  private static void apply(
      XtTable table, XtRule rule, Traversal f, int depth, List<Traversal> next, List<Ended> ended) {
    if (rule.target().isEmpty()) {
      next.add(f.step(step(table, rule, "continue (no target)")));
      return;
    }
    XtTarget t = rule.target().get();
    Packet p = f.ctx().packet();
    switch (t.name()) {
      case "ACCEPT" ->
          ended.add(
              new Ended(
                  f.step(step(table, rule, "ACCEPT")),
                  XtVerdict.ACCEPT,
                  Optional.of(rule),
                  Optional.empty()));
      case "DROP" ->
          ended.add(
              new Ended(
                  f.step(step(table, rule, "DROP")),
                  XtVerdict.DROP,
                  Optional.of(rule),
                  Optional.empty()));
      case "REJECT" -> {
        String with =
            t.option("--reject-with")
                .map(XtOption::arg)
                .orElse(
                    f.ctx().packet().family() == IpFamily.IPV4
                        ? "icmp-port-unreachable"
                        : "icmp6-port-unreachable");
        ended.add(
            new Ended(
                f.step(step(table, rule, "REJECT with " + with)),
                XtVerdict.REJECT,
                Optional.of(rule),
                Optional.of(with)));
      }
      case "RETURN" ->
          ended.add(
              new Ended(
                  f.step(step(table, rule, "RETURN")),
                  XtVerdict.RETURN,
                  Optional.empty(),
                  Optional.empty()));
      case "DNAT", "SNAT", "MASQUERADE", "REDIRECT" -> nat(table, rule, t, f, ended);
      case "MARK" -> {
        long mark = newMark(t, p.mark());
        next.add(
            f.with(withPacket(f.ctx(), p.withMark(mark)))
                .step(step(table, rule, "MARK set 0x" + Long.toHexString(mark))));
      }
      case "CONNMARK" -> connmark(table, rule, t, f, next);
      case "NOTRACK" -> next.add(untracked(table, rule, f));
      case "CT" -> {
        if (t.option("--notrack").isPresent()) {
          next.add(untracked(table, rule, f));
        } else {
          next.add(f.step(step(table, rule, "CT (zone/helper not modelled)")));
        }
      }
      default -> {
        if (CONTINUING_TARGETS.contains(t.name())) {
          next.add(f.step(step(table, rule, t.name() + " (continue)")));
          return;
        }
        Optional<XtChain> sub = table.chain(t.name());
        if (sub.isEmpty()) {
          next.add(
              f.step(step(table, rule, t.name() + " (unknown target)"))
                  .uncertain(
                      "cannot evaluate -j "
                          + t.name()
                          + ": treated as continue; verdict uncertain ("
                          + rule.text()
                          + ")"));
          return;
        }
        Traversal entered = f.step(step(table, rule, (t.isGoto() ? "goto " : "jump ") + t.name()));
        for (Ended e : run(table, sub.get(), entered, depth + 1)) {
          if (e.verdict() == XtVerdict.RETURN) {
            if (t.isGoto()) {
              ended.add(e);
            } else {
              next.add(e.flow());
            }
          } else {
            ended.add(e);
          }
        }
      }
    }
  }

  private static Traversal untracked(XtTable table, XtRule rule, Traversal f) {
    return f.with(f.ctx().untracked()).step(step(table, rule, "NOTRACK"));
  }

  private static XtStep step(XtTable table, XtRule rule, String action) {
    return new XtStep(
        table.name(),
        rule.chain(),
        Optional.of(rule.position()),
        Optional.of(rule.text()),
        action,
        Optional.empty());
  }

  static long newMark(XtTarget t, long mark) {
    for (XtOption o : t.options()) {
      String[] vm = o.arg().split("/");
      long v = XtMatchEvaluator.parseNumber(vm[0]);
      long m = vm.length > 1 ? XtMatchEvaluator.parseNumber(vm[1]) : 0xffffffffL;
      switch (o.name()) {
        case "--set-xmark" -> mark = (mark & ~m & 0xffffffffL) ^ v;
        case "--set-mark" -> mark = (mark & ~m & 0xffffffffL) | v;
        case "--or-mark" -> mark |= v;
        case "--and-mark" -> mark &= v;
        case "--xor-mark" -> mark ^= v;
        default -> {}
      }
    }
    return mark;
  }

  private static void connmark(
      XtTable table, XtRule rule, XtTarget t, Traversal f, List<Traversal> next) {
    Packet p = f.ctx().packet();
    if (t.option("--save-mark").isPresent()) {
      long nf = mask(t, "--nfmask");
      long ct = mask(t, "--ctmask");
      long m = (p.ctMark() & ~ct) ^ (p.mark() & nf);
      next.add(
          f.with(withPacket(f.ctx(), p.withCtMark(m))).step(step(table, rule, "CONNMARK save")));
    } else if (t.option("--restore-mark").isPresent()) {
      long nf = mask(t, "--nfmask");
      long ct = mask(t, "--ctmask");
      long m = (p.mark() & ~nf) ^ (p.ctMark() & ct);
      next.add(
          f.with(withPacket(f.ctx(), p.withMark(m))).step(step(table, rule, "CONNMARK restore")));
    } else {
      long m = newMark(t, p.ctMark());
      next.add(
          f.with(withPacket(f.ctx(), p.withCtMark(m)))
              .step(step(table, rule, "CONNMARK set 0x" + Long.toHexString(m))));
    }
  }

  private static long mask(XtTarget t, String option) {
    return t.option(option).map(o -> XtMatchEvaluator.parseNumber(o.arg())).orElse(0xffffffffL);
  }

  private static PacketContext withPacket(PacketContext c, Packet p) {
    return c.withPacket(p);
  }

  private static void nat(XtTable table, XtRule rule, XtTarget t, Traversal f, List<Ended> ended) {
    PacketContext c = f.ctx();
    Packet p = c.packet();
    Packet after;
    String kind = t.name();
    Optional<String> note = Optional.empty();
    switch (kind) {
      case "DNAT" -> {
        Endpoint e = endpoint(t.option("--to-destination").map(XtOption::arg).orElse(""), p.dst());
        after = p.withDst(e.addr(), e.port());
      }
      case "REDIRECT" -> {
        IpAddress addr = c.redirectAddress();
        Optional<Integer> port =
            t.option("--to-ports").map(o -> Integer.parseInt(o.arg().split("-")[0]));
        after = p.withDst(addr, port);
      }
      case "SNAT" -> {
        Endpoint e = endpoint(t.option("--to-source").map(XtOption::arg).orElse(""), p.src());
        after = p.withSrc(e.addr(), e.port());
        if (t.option("--random-fully").isPresent() || t.option("--random").isPresent()) {
          note = Optional.of("source port randomised");
        }
      }
      default -> {
        Optional<String> addr = c.masqueradeAddress();
        after = p.withSrc(addr.map(IpAddress::parse).orElse(p.src()), Optional.empty());
        if (addr.isEmpty()) {
          f = f.uncertain("MASQUERADE: the outgoing interface has no address");
        }
        if (t.option("--random-fully").isPresent() || t.option("--random").isPresent()) {
          note = Optional.of("source port randomised");
        }
      }
    }
    boolean dst = kind.equals("DNAT") || kind.equals("REDIRECT");
    String before = dst ? p.dstEndpoint() : p.srcEndpoint();
    String afterText = dst ? after.dstEndpoint() : after.srcEndpoint();
    PacketContext nc = c.translated(after, dst);
    String where = table.name() + "/" + rule.chain() + " #" + rule.position();
    Traversal done =
        f.with(nc)
            .nat(new NatTranslation(kind, before, afterText, where))
            .step(
                new XtStep(
                    table.name(),
                    rule.chain(),
                    Optional.of(rule.position()),
                    Optional.of(rule.text()),
                    kind + " " + before + " -> " + afterText,
                    note));
    ended.add(new Ended(done, XtVerdict.ACCEPT, Optional.of(rule), Optional.empty()));
  }

  private record Endpoint(IpAddress addr, Optional<Integer> port) {}

  /**
   * "10.0.0.1", "10.0.0.1:80", "10.0.0.1-10.0.0.3:80-90", ":80", "[fd00::5]:80", "fd00::5": the
   * first of any range.
   */
  private static Endpoint endpoint(String spec, IpAddress keep) {
    String addrPart = spec;
    Optional<Integer> port = Optional.empty();
    if (spec.startsWith("[")) {
      int close = spec.indexOf(']');
      addrPart = spec.substring(1, close);
      if (close + 1 < spec.length() && spec.charAt(close + 1) == ':') {
        port = Optional.of(Integer.parseInt(spec.substring(close + 2).split("-")[0]));
      }
    } else if (spec.indexOf(':') == spec.lastIndexOf(':')) {
      int colon = spec.indexOf(':');
      if (colon >= 0) {
        addrPart = spec.substring(0, colon);
        port = Optional.of(Integer.parseInt(spec.substring(colon + 1).split("-")[0]));
      }
    }
    IpAddress addr = addrPart.isEmpty() ? keep : IpAddress.parse(addrPart.split("-")[0]);
    return new Endpoint(addr, port);
  }
}
