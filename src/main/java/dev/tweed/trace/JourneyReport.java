package dev.tweed.trace;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tweed.kernel.Packet;
import dev.tweed.kernel.netfilter.NatTranslation;
import dev.tweed.trace.bpf.MapLookup;
import dev.tweed.trace.bpf.ProgramRun;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.function.Function;

/**
 * A journey's outcomes, told as one record: the hops every branch shares, then, where random forks
 * split the path, each branch with its probability, own hops and verdict. Renders the JSON form
 * documented in the README and the numbered text form.
 */
public final class JourneyReport {
  private final Packet packet;
  private final String from;
  private final List<Outcome> outcomes;
  private final Function<String, String> labels;
  private final Function<Outcome, List<Outcome>> replies;

  public JourneyReport(
      Packet packet, String from, List<Outcome> outcomes, Function<String, String> labels) {
    this(packet, from, outcomes, labels, o -> List.of());
  }

  private JourneyReport(
      Packet packet,
      String from,
      List<Outcome> outcomes,
      Function<String, String> labels,
      Function<Outcome, List<Outcome>> replies) {
    if (outcomes.isEmpty()) {
      throw new IllegalArgumentException("a journey has at least one outcome");
    }
    this.packet = packet;
    this.from = from;
    this.outcomes = List.copyOf(outcomes);
    this.labels = labels;
    this.replies = replies;
  }

  /** Also tells, for every delivered branch, the reply's way back ({@code Tracer::reply}). */
  public JourneyReport withReplies(Function<Outcome, List<Outcome>> replies) {
    return new JourneyReport(packet, from, outcomes, labels, replies);
  }

  /** The reply to {@code o} as a journey of its own, when there is one. */
  private Optional<JourneyReport> reply(Outcome o) {
    List<Outcome> back = replies.apply(o);
    if (back.isEmpty()) {
      return Optional.empty();
    }
    ConntrackEntry server = o.conntrack().getLast();
    Packet t = server.translated();
    Packet r = new Packet(t.dst(), t.src(), t.proto(), t.dport(), t.sport(), 0, 0, 64);
    return Optional.of(new JourneyReport(r, labels.apply(server.netns()), back, labels));
  }

  public List<Outcome> outcomes() {
    return outcomes;
  }

  /** Only the chosen branch (1-based), as {@code --pick N} asks. */
  public JourneyReport pick(int branch) {
    if (branch < 1 || branch > outcomes.size()) {
      throw new IllegalArgumentException(
          "--pick " + branch + ": the journey has " + outcomes.size() + " branch(es)");
    }
    return new JourneyReport(packet, from, List.of(outcomes.get(branch - 1)), labels, replies);
  }

  /** The hops all branches share. */
  List<Hop> common() {
    List<Hop> first = outcomes.get(0).hops();
    int n = first.size();
    for (Outcome o : outcomes) {
      int i = 0;
      while (i < Math.min(n, o.hops().size()) && o.hops().get(i).equals(first.get(i))) {
        i++;
      }
      n = i;
    }
    return first.subList(0, n);
  }

  /** The verdict of the whole journey: the branches' if they agree, else uncertain. */
  public String verdict() {
    String v = outcomes.get(0).verdict();
    return outcomes.stream().allMatch(o -> o.verdict().equals(v)) ? v : "uncertain";
  }

  public String reason() {
    if (outcomes.size() == 1) {
      return outcomes.get(0).reason();
    }
    if (!verdict().equals("uncertain")) {
      return outcomes.size() + " random branches, all " + verdict();
    }
    List<String> parts = new ArrayList<>();
    for (int i = 0; i < outcomes.size(); i++) {
      parts.add("branch " + (i + 1) + " " + outcomes.get(i).verdict());
    }
    return "the random branches end differently: " + String.join(", ", parts);
  }

  public ObjectNode toJson() {
    JsonNodeFactory f = JsonNodeFactory.instance;
    ObjectNode root = f.objectNode();
    ObjectNode pk = root.putObject("packet");
    pk.put("proto", packet.proto());
    pk.put("src", packet.srcIp());
    pk.put("dst", packet.dstIp());
    if (packet.hasPorts()) {
      pk.put("sport", packet.sport());
      pk.put("dport", packet.dport());
    }
    root.put("from", from);
    root.put("verdict", verdict());
    root.put("reason", reason());
    List<Hop> common = common();
    if (outcomes.size() == 1) {
      outcomeFields(root, outcomes.get(0));
      root.set("hops", hops(common, 1));
      return root;
    }
    ArrayNode branches = root.putArray("branches");
    String rule = outcomes.get(0).rule().orElse(null);
    boolean sameRule =
        outcomes.stream().allMatch(o -> o.rule().orElse("").equals(rule == null ? "" : rule));
    root.put("rule", sameRule ? rule : null);
    root.set("nat", nat(List.of()));
    root.putNull("egress");
    root.set("uncertainties", f.arrayNode());
    root.set("hops", hops(common, 1));
    for (int i = 0; i < outcomes.size(); i++) {
      Outcome o = outcomes.get(i);
      ObjectNode b = branches.addObject();
      b.put("branch", i + 1);
      b.put("probability", round(o.probability()));
      b.put("verdict", o.verdict());
      b.put("reason", o.reason());
      outcomeFields(b, o);
      b.set("hops", hops(o.hops().subList(common.size(), o.hops().size()), common.size() + 1));
    }
    return root;
  }

  private void outcomeFields(ObjectNode n, Outcome o) {
    if (o.verdict().equals("uncertain")) {
      n.put("assumed", o.assumed());
    }
    n.put("rule", o.rule().orElse(null));
    n.set("nat", nat(o.nat()));
    if (o.egress().isPresent()) {
      ObjectNode e = n.putObject("egress");
      e.put("netns", o.egress().get().netns());
      e.put("at", labels.apply(o.egress().get().netns()));
      e.put("iface", o.egress().get().iface());
      e.put("nextHop", o.egress().get().nextHop());
    } else {
      n.putNull("egress");
    }
    ArrayNode u = n.putArray("uncertainties");
    o.uncertainties().forEach(u::add);
    reply(o).ifPresent(r -> n.set("reply", r.toJson()));
  }

  private static ArrayNode nat(List<NatTranslation> nat) {
    ArrayNode a = JsonNodeFactory.instance.arrayNode();
    for (NatTranslation t : nat) {
      ObjectNode n = a.addObject();
      n.put("kind", t.kind());
      n.put("before", t.before());
      n.put("after", t.after());
      n.put("where", t.where());
    }
    return a;
  }

  private ArrayNode hops(List<Hop> hops, int first) {
    ArrayNode a = JsonNodeFactory.instance.arrayNode();
    int n = first;
    for (Hop h : hops) {
      ObjectNode o = a.addObject();
      o.put("n", n++);
      o.put("netns", h.netns());
      o.put("at", labels.apply(h.netns()));
      o.put("step", h.step());
      put(o, "iface", h.iface());
      put(o, "hook", h.hook());
      put(o, "table", h.table());
      put(o, "chain", h.chain());
      if (h.position().isPresent()) {
        o.put("position", h.position().get());
      }
      put(o, "rule", h.rule());
      put(o, "packet", h.packet().map(Packet::toString));
      h.bpf().ifPresent(run -> o.set("bpf", bpf(run)));
      o.put("detail", h.detail());
    }
    return a;
  }

  /** A tc program's run: where it ran, each map lookup and what it found, and its action. */
  private static ObjectNode bpf(ProgramRun run) {
    ObjectNode b = JsonNodeFactory.instance.objectNode();
    b.put("program", run.program());
    b.put("device", run.device());
    b.put("hook", run.hook());
    ArrayNode lookups = b.putArray("lookups");
    for (MapLookup l : run.lookups()) {
      lookups.addObject().put("map", l.map()).put("key", l.key()).put("result", l.result());
    }
    run.choice().ifPresent(c -> b.put("choice", c));
    b.put("action", run.actionText());
    return b;
  }

  private static void put(ObjectNode o, String k, Optional<String> v) {
    v.ifPresent(s -> o.put(k, s));
  }

  private static double round(double p) {
    return Math.round(p * 1e6) / 1e6;
  }

  public String toText() {
    StringBuilder sb = new StringBuilder();
    sb.append(packet).append(" from ").append(from).append('\n');
    List<Hop> common = common();
    textHops(sb, common, 1, "");
    if (outcomes.size() == 1) {
      textVerdict(sb, outcomes.get(0), "");
      return sb.toString();
    }
    sb.append("the path forks at random into ").append(outcomes.size()).append(" branches:\n");
    for (int i = 0; i < outcomes.size(); i++) {
      Outcome o = outcomes.get(i);
      sb.append(
          String.format(Locale.ROOT, "branch %d (probability %.4f):%n", i + 1, o.probability()));
      textHops(sb, o.hops().subList(common.size(), o.hops().size()), common.size() + 1, "  ");
      textVerdict(sb, o, "  ");
    }
    sb.append("verdict: ").append(verdict()).append(" — ").append(reason()).append('\n');
    return sb.toString();
  }

  private void textHops(StringBuilder sb, List<Hop> hops, int first, String indent) {
    int n = first;
    for (Hop h : hops) {
      sb.append(indent)
          .append(String.format(Locale.ROOT, "%3d  %-10s ", n++, labels.apply(h.netns())));
      if (h.step().equals("netfilter")) {
        sb.append(h.table().orElse(""))
            .append('/')
            .append(h.hook().orElse(""))
            .append(' ')
            .append(h.chain().orElse(""));
        h.position().ifPresent(p -> sb.append(" #").append(p));
        sb.append(": ").append(h.detail()).append('\n');
        h.rule()
            .ifPresent(r -> sb.append(indent).append("                 ").append(r).append('\n'));
      } else if (h.bpf().isPresent()) {
        ProgramRun run = h.bpf().get();
        sb.append("bpf ")
            .append(run.program())
            .append(" (")
            .append(run.hook())
            .append(" of ")
            .append(run.device())
            .append("): ")
            .append(h.detail())
            .append('\n');
        for (MapLookup l : run.lookups()) {
          sb.append(indent).append("                 ").append(l).append('\n');
        }
        sb.append(indent).append("                 -> ").append(run.actionText()).append('\n');
      } else {
        sb.append(h.step()).append(": ").append(h.detail()).append('\n');
      }
    }
  }

  private void textVerdict(StringBuilder sb, Outcome o, String indent) {
    textOutcome(sb, o, indent);
    reply(o)
        .ifPresent(
            r -> {
              sb.append(indent).append("the reply, back through conntrack:\n");
              for (String line : r.toText().split("\n")) {
                sb.append(indent).append("  ").append(line).append('\n');
              }
            });
  }

  private static void textOutcome(StringBuilder sb, Outcome o, String indent) {
    sb.append(indent)
        .append("verdict: ")
        .append(o.verdict())
        .append(" — ")
        .append(o.reason())
        .append('\n');
    o.rule().ifPresent(r -> sb.append(indent).append("rule: ").append(r).append('\n'));
    for (NatTranslation t : o.nat()) {
      sb.append(indent)
          .append("nat: ")
          .append(t.kind())
          .append(' ')
          .append(t.before())
          .append(" -> ")
          .append(t.after())
          .append(" (")
          .append(t.where())
          .append(")\n");
    }
    o.egress()
        .ifPresent(
            e ->
                sb.append(indent)
                    .append("egress: ")
                    .append(e.iface())
                    .append(" via ")
                    .append(e.nextHop())
                    .append('\n'));
  }
}
