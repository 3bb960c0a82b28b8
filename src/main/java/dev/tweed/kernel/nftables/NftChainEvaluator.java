package dev.tweed.kernel.nftables;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.kernel.Packet;
import dev.tweed.kernel.netfilter.NatTranslation;
import dev.tweed.kernel.netfilter.PacketContext;
import dev.tweed.kernel.netfilter.Traversal;
import dev.tweed.kernel.netfilter.XtOutcome;
import dev.tweed.kernel.netfilter.XtRule;
import dev.tweed.kernel.netfilter.XtStep;
import dev.tweed.kernel.netfilter.XtVerdict;
import dev.tweed.kernel.nftables.NftRuleset.Chain;
import dev.tweed.kernel.nftables.NftRuleset.Rule;
import dev.tweed.model.IpAddress;
import dev.tweed.model.IpFamily;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * Runs a packet through an nftables base chain as the kernel does: each rule's expressions in order
 * (a failed match ends the rule), statements with their effects (marks, NAT), verdicts, verdict
 * maps, jumps and gotos, the chain's policy. {@code numgen random} forks the traversal into one
 * branch per map entry, each followed with its probability. Outcomes are the same records the
 * iptables evaluator returns, so the walk treats both alike.
 */
public final class NftChainEvaluator {
  private static final int MAX_DEPTH = 64;

  private NftChainEvaluator() {}

  /** A branch that left a chain: by a verdict, or (RETURN) by falling off or returning. */
  private record Ended(Traversal flow, XtVerdict verdict, Optional<String> rejectWith) {}

  public static List<XtOutcome> evaluate(NftRuleset rs, Chain base, PacketContext ctx) {
    Traversal start = Traversal.start(ctx);
    List<XtOutcome> out = new ArrayList<>();
    for (Ended e : run(rs, base, start, 0)) {
      Traversal f = e.flow();
      XtVerdict v = e.verdict();
      if (v == XtVerdict.RETURN) {
        v = base.policy().equals("drop") ? XtVerdict.DROP : XtVerdict.ACCEPT;
        f = f.step(XtStep.policy(base.table(), base.name(), base.policy()));
      }
      XtStep last = f.steps().getLast();
      Optional<XtRule> deciding =
          v == XtVerdict.ACCEPT || last.rule().isEmpty()
              ? Optional.empty()
              : Optional.of(
                  new XtRule(
                      last.chain(),
                      last.position().orElse(0),
                      List.of(),
                      Optional.empty(),
                      last.rule().get()));
      out.add(f.outcome(v, deciding, e.rejectWith()));
    }
    return out;
  }

  private static List<Ended> run(NftRuleset rs, Chain chain, Traversal in, int depth) {
    List<Ended> ended = new ArrayList<>();
    if (depth > MAX_DEPTH) {
      ended.add(
          new Ended(
              in.uncertain("chains nested deeper than " + MAX_DEPTH),
              XtVerdict.DROP,
              Optional.empty()));
      return ended;
    }
    List<Traversal> alive = List.of(in);
    for (Rule rule : chain.rules()) {
      List<Traversal> next = new ArrayList<>();
      for (Traversal f : alive) {
        rule(rs, chain, rule, f, 0, depth, next, ended);
      }
      alive = next;
      if (alive.isEmpty()) {
        break;
      }
    }
    for (Traversal f : alive) {
      ended.add(new Ended(f, XtVerdict.RETURN, Optional.empty()));
    }
    return ended;
  }

  private static XtStep step(Rule rule, String action) {
    return new XtStep(
        rule.table(),
        rule.chain(),
        Optional.of(rule.position()),
        Optional.of(rule.text()),
        action,
        Optional.empty());
  }

  /**
   * Evaluates {@code rule} from expression {@code from}: a flow that goes on to the next rule lands
   * in {@code next}, one that ends the chain in {@code ended}.
   */
  private static void rule(
      NftRuleset rs,
      Chain chain,
      Rule rule,
      Traversal f,
      int from,
      int depth,
      List<Traversal> next,
      List<Ended> ended) {
    List<JsonNode> expr = rule.expr();
    boolean acted = false;
    for (int i = from; i < expr.size(); i++) {
      JsonNode s = expr.get(i);
      Map.Entry<String, JsonNode> e = NftText.only(s);
      String kind = e == null ? "?" : e.getKey();
      JsonNode v = e == null ? s : e.getValue();
      try {
        switch (kind) {
          case "match" -> {
            if (!matches(v, f.ctx(), rs, rule)) {
              next.add(f);
              return;
            }
          }
          case "counter", "log", "limit", "quota" -> {}
          case "mangle" -> {
            f = mangle(rule, v, f);
            acted = true;
          }
          case "set" -> {
            acted = true;
          }
          case "notrack" -> {
            f = f.with(f.ctx().untracked());
            acted = true;
          }
          case "accept" -> {
            ended.add(new Ended(f.step(step(rule, "accept")), XtVerdict.ACCEPT, Optional.empty()));
            return;
          }
          case "drop" -> {
            ended.add(new Ended(f.step(step(rule, "drop")), XtVerdict.DROP, Optional.empty()));
            return;
          }
          case "reject" -> {
            String with = rejectWith(v, f.ctx().packet().family());
            ended.add(
                new Ended(
                    f.step(step(rule, "reject with " + with)),
                    XtVerdict.REJECT,
                    Optional.of(with)));
            return;
          }
          case "return" -> {
            ended.add(new Ended(f.step(step(rule, "return")), XtVerdict.RETURN, Optional.empty()));
            return;
          }
          case "continue" -> {}
          case "jump", "goto" -> {
            verdict(rs, chain, rule, s, f, depth, next, ended);
            return;
          }
          case "vmap" -> {
            vmap(rs, chain, rule, v, f, depth, next, ended);
            return;
          }
          case "dnat", "snat", "masquerade", "redirect" -> {
            ended.add(new Ended(nat(rule, kind, v, f), XtVerdict.ACCEPT, Optional.empty()));
            return;
          }
          default -> throw new NftValues.Unknown(kind);
        }
      } catch (NftValues.Unknown u) {
        next.add(
            f.uncertain(
                "cannot evaluate nft expression "
                    + u.getMessage()
                    + ": treated as no-match; verdict uncertain ("
                    + rule.text()
                    + ")"));
        return;
      }
    }
    // A rule that matched without a verdict: the kernel's trace calls it "continue".
    next.add(f.step(step(rule, acted ? "continue (after its statements)" : "continue")));
  }

  private static boolean matches(JsonNode m, PacketContext c, NftRuleset rs, Rule rule) {
    Optional<Object> left = NftValues.value(m.path("left"), c);
    if (left.isEmpty()) {
      return false;
    }
    String op = m.path("op").asText("==");
    JsonNode right = m.path("right");
    return switch (op) {
      case "==", "in" -> member(left.get(), right, rs, rule);
      case "!=" -> !member(left.get(), right, rs, rule);
      case "<", ">", "<=", ">=" -> {
        long l = (Long) left.get();
        long r = NftValues.literal(right, left.get());
        yield switch (op) {
          case "<" -> l < r;
          case ">" -> l > r;
          case "<=" -> l <= r;
          default -> l >= r;
        };
      }
      default -> throw new NftValues.Unknown("operator " + op);
    };
  }

  private static boolean member(Object v, JsonNode right, NftRuleset rs, Rule rule) {
    for (JsonNode el : elements(right, rs, rule)) {
      if (NftValues.element(v, el)) {
        return true;
      }
    }
    return false;
  }

  /** The elements a right-hand side stands for: a named set's, an anonymous set's, or itself. */
  private static List<JsonNode> elements(JsonNode right, NftRuleset rs, Rule rule) {
    if (right.isTextual() && right.asText().startsWith("@")) {
      return rs.set(rule.family(), rule.table(), right.asText().substring(1))
          .map(NftRuleset.NamedSet::elements)
          .orElseThrow(
              () -> new NftValues.Unknown("set " + right.asText() + " (not in the ruleset)"));
    }
    if (right.isArray()) {
      List<JsonNode> out = new ArrayList<>();
      right.forEach(out::add);
      return out;
    }
    if (right.has("set")) {
      JsonNode s = right.get("set");
      List<JsonNode> out = new ArrayList<>();
      if (s.isArray()) {
        s.forEach(out::add);
      } else {
        out.add(s);
      }
      return out;
    }
    return List.of(right);
  }

  private static Traversal mangle(Rule rule, JsonNode v, Traversal f) {
    Map.Entry<String, JsonNode> key = NftText.only(v.path("key"));
    Optional<Object> value = NftValues.value(v.path("value"), f.ctx());
    if (key == null || value.isEmpty()) {
      throw new NftValues.Unknown("mangle " + v);
    }
    long val = (Long) value.get();
    PacketContext c = f.ctx();
    Packet p = c.packet();
    String k = key.getKey() + " " + key.getValue().path("key").asText();
    Packet after =
        switch (k) {
          case "meta mark" -> p.withMark(val);
          case "ct mark" -> p.withCtMark(val);
          default -> throw new NftValues.Unknown("mangle " + k);
        };
    return f.with(c.withPacket(after));
  }

  /** How a reject answers, named as iptables and ip6tables name it. */
  private static String rejectWith(JsonNode v, IpFamily family) {
    if (v == null || v.isNull() || v.isMissingNode() || !v.has("type")) {
      return family == IpFamily.IPV4 ? "icmp-port-unreachable" : "icmp6-port-unreachable";
    }
    String type = v.path("type").asText();
    if (type.equals("tcp reset")) {
      return "tcp-reset";
    }
    // ip6tables' names: icmp6-port-unreachable, icmp6-adm-prohibited, ...
    return (type.equals("icmpv6") ? "icmp6-" : "icmp-") + v.path("expr").asText("port-unreachable");
  }

  /** A jump or goto statement (also a verdict map's data). */
  private static void verdict(
      NftRuleset rs,
      Chain chain,
      Rule rule,
      JsonNode verdict,
      Traversal f,
      int depth,
      List<Traversal> next,
      List<Ended> ended) {
    Map.Entry<String, JsonNode> e = NftText.only(verdict);
    String kind = e == null ? verdict.asText() : e.getKey();
    switch (kind) {
      case "accept" ->
          ended.add(new Ended(f.step(step(rule, "accept")), XtVerdict.ACCEPT, Optional.empty()));
      case "drop" ->
          ended.add(new Ended(f.step(step(rule, "drop")), XtVerdict.DROP, Optional.empty()));
      case "return" ->
          ended.add(new Ended(f.step(step(rule, "return")), XtVerdict.RETURN, Optional.empty()));
      case "continue" -> next.add(f.step(step(rule, "continue")));
      case "jump", "goto" -> {
        String target = e.getValue().path("target").asText();
        Optional<Chain> sub = rs.chain(rule.family(), rule.table(), target);
        if (sub.isEmpty()) {
          next.add(f.uncertain("chain " + target + " is not in the ruleset (" + rule.text() + ")"));
          return;
        }
        Traversal entered = f.step(step(rule, kind + " " + target));
        for (Ended x : run(rs, sub.get(), entered, depth + 1)) {
          if (x.verdict() == XtVerdict.RETURN && kind.equals("jump")) {
            next.add(x.flow());
          } else {
            ended.add(x);
          }
        }
      }
      default -> throw new NftValues.Unknown("verdict " + verdict);
    }
  }

  private static void vmap(
      NftRuleset rs,
      Chain chain,
      Rule rule,
      JsonNode v,
      Traversal f,
      int depth,
      List<Traversal> next,
      List<Ended> ended) {
    JsonNode key = v.path("key");
    JsonNode data = v.path("data");
    List<JsonNode> keys = new ArrayList<>();
    List<JsonNode> values = new ArrayList<>();
    if (data.isTextual() && data.asText().startsWith("@")) {
      NftRuleset.NamedSet m =
          rs.set(rule.family(), rule.table(), data.asText().substring(1))
              .orElseThrow(() -> new NftValues.Unknown("map " + data.asText()));
      keys.addAll(m.elements());
      values.addAll(m.values());
    } else {
      for (JsonNode pair : data.path("set")) {
        keys.add(pair.get(0));
        values.add(pair.get(1));
      }
    }
    if (key.has("numgen")) {
      JsonNode ng = key.get("numgen");
      if (!ng.path("mode").asText().equals("random")) {
        throw new NftValues.Unknown("numgen " + ng.path("mode").asText());
      }
      int mod = ng.path("mod").asInt();
      long offset = ng.path("offset").asLong(0);
      for (int n = 0; n < mod; n++) {
        long value = n + offset;
        int branch = n;
        Traversal forked = f.fork(branch, 1.0 / mod);
        Optional<JsonNode> target = lookup(keys, values, value);
        if (target.isEmpty()) {
          next.add(forked);
          continue;
        }
        int at = forked.steps().size();
        List<Traversal> nextHere = new ArrayList<>();
        List<Ended> endedHere = new ArrayList<>();
        verdict(rs, chain, rule, target.get(), forked, depth, nextHere, endedHere);
        String note = "random branch " + (n + 1) + " of " + mod;
        nextHere.forEach(x -> next.add(x.noted(at, note)));
        endedHere.forEach(
            x -> ended.add(new Ended(x.flow().noted(at, note), x.verdict(), x.rejectWith())));
      }
      return;
    }
    Optional<Object> k = NftValues.value(key, f.ctx());
    if (k.isPresent()) {
      for (int i = 0; i < keys.size(); i++) {
        if (NftValues.element(k.get(), keys.get(i))) {
          verdict(rs, chain, rule, values.get(i), f, depth, next, ended);
          return;
        }
      }
    }
    next.add(f);
  }

  private static Optional<JsonNode> lookup(List<JsonNode> keys, List<JsonNode> values, long v) {
    for (int i = 0; i < keys.size(); i++) {
      if (NftValues.element(v, keys.get(i))) {
        return Optional.of(values.get(i));
      }
    }
    return Optional.empty();
  }

  private static Traversal nat(Rule rule, String kind, JsonNode v, Traversal f) {
    PacketContext c = f.ctx();
    Packet p = c.packet();
    Optional<Integer> port = v.has("port") ? Optional.of(v.path("port").asInt()) : Optional.empty();
    Packet after;
    Optional<String> note = Optional.empty();
    switch (kind) {
      case "dnat" -> after = p.withDst(IpAddress.parse(v.path("addr").asText()), port);
      case "snat" -> after = p.withSrc(IpAddress.parse(v.path("addr").asText()), port);
      case "redirect" -> after = p.withDst(c.redirectAddress(), port);
      default ->
          after = p.withSrc(c.masqueradeAddress().map(IpAddress::parse).orElse(p.src()), port);
    }
    if (v.path("flags").toString().contains("random")) {
      note = Optional.of("source port randomised");
    }
    boolean dst = kind.equals("dnat") || kind.equals("redirect");
    String before = dst ? p.dstEndpoint() : p.srcEndpoint();
    String afterText = dst ? after.dstEndpoint() : after.srcEndpoint();
    String label = kind.toUpperCase(Locale.ROOT);
    PacketContext nc = c.translated(after, dst);
    String where = rule.table() + "/" + rule.chain() + " #" + rule.position();
    return f.with(nc)
        .nat(new NatTranslation(label, before, afterText, where))
        .step(
            new XtStep(
                rule.table(),
                rule.chain(),
                Optional.of(rule.position()),
                Optional.of(rule.text()),
                label + " " + before + " -> " + afterText,
                note));
  }
}
