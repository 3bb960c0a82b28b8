package dev.tweed.trace.verify;

import dev.tweed.kernel.Packet;
import dev.tweed.kernel.nftables.NftTraceEvent;
import dev.tweed.trace.Hop;
import dev.tweed.trace.Outcome;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.BiPredicate;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * Compares a traced journey with what the kernel did: the rules matched in each namespace, and the
 * verdict. Where the model forks at random, the kernel took one branch; the branch that agrees (or,
 * failing that, the one that agrees longest) is compared.
 */
public final class JourneyCheck {
  private JourneyCheck() {}

  /**
   * @param kernelVerdict what the real packet's sender saw: delivered, rejected or dropped (no
   *     answer)
   * @param branch the 0-based index of the compared branch
   * @param differences where model and kernel part, in words; empty when they agree
   */
  public record Result(
      int branch,
      String modelVerdict,
      String kernelVerdict,
      Map<String, List<PathStep>> model,
      Map<String, List<PathStep>> kernel,
      List<String> differences,
      List<String> notes,
      Optional<Result> reply,
      Map<String, List<ProgramStep>> modelPrograms,
      Map<String, List<ProgramStep>> kernelPrograms,
      Set<String> kernelPasses) {
    public boolean agree() {
      return differences.isEmpty();
    }

    /** This result with the reply's comparison: its differences are this journey's too. */
    public Result withReply(Result r) {
      List<String> d = new ArrayList<>(differences);
      r.differences().forEach(x -> d.add("reply: " + x));
      List<String> n = new ArrayList<>(notes);
      r.notes().forEach(x -> n.add("reply: " + x));
      return new Result(
          branch,
          modelVerdict,
          kernelVerdict,
          model,
          kernel,
          List.copyOf(d),
          List.copyOf(n),
          Optional.of(r),
          modelPrograms,
          kernelPrograms,
          kernelPasses);
    }

    /** How many program runs the comparison covered. */
    public int programs() {
      return modelPrograms.values().stream().mapToInt(List::size).sum();
    }

    public int rules() {
      return model.values().stream().mapToInt(List::size).sum();
    }

    /** Whether some rule of the kernel's path (or its reply's) had no readable position. */
    public boolean positionsUnread() {
      return kernel.values().stream().flatMap(List::stream).anyMatch(PathStep::positionUnknown)
          || reply.map(Result::positionsUnread).orElse(false);
    }
  }

  /**
   * A refusal by ICMP error (a REJECT's, or a closed UDP port's) that the sender never heard, where
   * the kernel took the model's path: its ICMP rate limit swallowed the error.
   */
  private static boolean rateLimited(Outcome o, String model, String kernel) {
    String why = o.reason().toLowerCase(Locale.ROOT);
    return model.equals("rejected")
        && kernel.equals("dropped")
        && why.contains("icmp")
        && !why.contains("tcp-reset");
  }

  /** What a sender sees for a verdict: a forwarded packet leaves and gets no answer. */
  public static String seenBySender(String verdict) {
    return switch (verdict) {
      case "forwarded" -> "dropped";
      default -> verdict;
    };
  }

  public static Result check(
      List<Outcome> outcomes,
      Map<String, List<NftTraceEvent>> events,
      RulePositions positions,
      Set<Integer> vxlanPorts,
      String kernelVerdict,
      Function<String, String> label) {
    return check(outcomes, events, positions, vxlanPorts, kernelVerdict, label, ProgramPaths.NONE);
  }

  /**
   * As above, with the tc programs' runs: the model's against those the programs reported, program
   * by program, for every branch.
   */
  public static Result check(
      List<Outcome> outcomes,
      Map<String, List<NftTraceEvent>> events,
      RulePositions positions,
      Set<Integer> vxlanPorts,
      String kernelVerdict,
      Function<String, String> label,
      ProgramPaths programs) {
    return check(outcomes, events, positions, vxlanPorts, kernelVerdict, label, programs, Set.of());
  }

  /**
   * As above, leaving out the kernel's packet passes {@code taken} by another comparison (a reply's
   * check leaves out those its request's took: {@link Result#kernelPasses()}).
   */
  public static Result check(
      List<Outcome> outcomes,
      Map<String, List<NftTraceEvent>> events,
      RulePositions positions,
      Set<Integer> vxlanPorts,
      String kernelVerdict,
      Function<String, String> label,
      ProgramPaths programs,
      Set<String> taken) {
    Set<KernelPath.Key> expected = new LinkedHashSet<>();
    for (Outcome o : outcomes) {
      for (Hop h : o.hops()) {
        h.packet().ifPresent(p -> expected.add(KernelPath.Key.of(p)));
      }
    }
    KernelPath.Path kernelPath = KernelPath.of(events, expected, positions, taken);
    Map<String, List<PathStep>> kernel = kernelPath.steps();
    Result best = null;
    int bestCommon = -1;
    for (int i = 0; i < outcomes.size(); i++) {
      Outcome o = outcomes.get(i);
      String modelVerdict =
          seenBySender(o.verdict().equals("uncertain") ? o.assumed() : o.verdict());
      Map<String, List<PathStep>> model = modelPath(o, p -> true);
      List<String> diffs = new ArrayList<>(differences(model, kernel, label));
      Map<String, List<ProgramStep>> modelRuns = programs.model(o);
      List<String> programDiffs = programDifferences(modelRuns, programs.kernel(), label);
      List<String> notes = new ArrayList<>();
      if (!diffs.isEmpty()) {
        // An encapsulated packet's UDP source port is a hash of the inner flow. When an earlier
        // flow hashed to the same port within conntrack's UDP timeout, the outer packet belongs to
        // a tracked flow and skips the nat table, which the model cannot know in advance. Each
        // outer flow (one per pair of nodes and direction: a request and its reply may take
        // different ones) is tracked or not on its own.
        List<String> outer = outerFlows(o, vxlanPorts);
        for (int mask = 1; mask < (1 << Math.min(outer.size(), 6)); mask++) {
          Set<String> tracked = new HashSet<>();
          for (int b = 0; b < outer.size(); b++) {
            if ((mask & (1 << b)) != 0) {
              tracked.add(outer.get(b));
            }
          }
          Map<String, List<PathStep>> variant =
              modelPath(o, p -> !(isOuter(p, vxlanPorts) && tracked.contains(outerKey(p))));
          if (!variant.equals(model) && differences(variant, kernel, label).isEmpty()) {
            model = variant;
            diffs = new ArrayList<>();
            notes.add(
                "the kernel already tracked the outer VXLAN flow"
                    + (tracked.size() == 1 ? " " : "s ")
                    + String.join(", ", tracked)
                    + " (an earlier flow's hash gave the same UDP source port), so the"
                    + " encapsulated packet skipped the NAT chains there");
            break;
          }
        }
      }
      diffs.addAll(programDiffs);
      if (!modelVerdict.equals(kernelVerdict)) {
        if (rateLimited(o, modelVerdict, kernelVerdict) && diffs.isEmpty()) {
          notes.add(
              "the refusal is an ICMP error, and the kernel rate-limits ICMP errors per peer"
                  + " (net.ipv4.icmp_ratelimit, net.ipv6.icmp.ratelimit: a burst of 6 then one a"
                  + " second) and per host (net.ipv4.icmp_msgs_per_sec, both families): the sender"
                  + " heard nothing");
        } else {
          diffs.add(
              "verdict: the model says "
                  + modelVerdict
                  + " ("
                  + o.reason()
                  + "), the kernel's packet was "
                  + kernelVerdict);
        }
      }
      long unread =
          kernel.values().stream().flatMap(List::stream).filter(PathStep::positionUnknown).count();
      if (unread > 0 && diffs.isEmpty()) {
        notes.add(
            unread
                + " of the kernel's rules had been rewritten (an agent's sync) before their"
                + " positions could be read: they were compared by chain only");
      }
      Result r =
          new Result(
              i,
              modelVerdict,
              kernelVerdict,
              model,
              kernel,
              List.copyOf(diffs),
              List.copyOf(notes),
              Optional.empty(),
              modelRuns,
              programs.kernel(),
              kernelPath.passes());
      int common = commonSteps(model, kernel) + commonRuns(modelRuns, programs.kernel());
      if (best == null
          || common > bestCommon
          || (common == bestCommon && r.differences().size() < best.differences().size())) {
        best = r;
        bestCommon = common;
      }
      if (r.agree()) {
        break;
      }
    }
    return best;
  }

  private static boolean isOuter(Packet p, Set<Integer> vxlanPorts) {
    return p.proto().equals("udp") && vxlanPorts.contains(p.dport());
  }

  private static String outerKey(Packet p) {
    return p.srcIp() + " > " + p.dstIp();
  }

  /** The outer VXLAN flows of a journey whose packets met a nat chain, in order. */
  private static List<String> outerFlows(Outcome o, Set<Integer> vxlanPorts) {
    Set<String> out = new LinkedHashSet<>();
    for (Hop h : o.hops()) {
      if (h.natChain()) {
        h.packet().filter(p -> isOuter(p, vxlanPorts)).ifPresent(p -> out.add(outerKey(p)));
      }
    }
    return List.copyOf(out);
  }

  /** The rules the model matched; nat-table rules only for packets {@code natFor} accepts. */
  static Map<String, List<PathStep>> modelPath(Outcome o, Predicate<Packet> natFor) {
    Map<String, List<PathStep>> out = new LinkedHashMap<>();
    for (Hop h : o.hops()) {
      if (!h.step().equals("netfilter") || h.position().isEmpty()) {
        continue;
      }
      if (h.natChain() && h.packet().map(p -> !natFor.test(p)).orElse(false)) {
        continue;
      }
      out.computeIfAbsent(h.netns(), k -> new ArrayList<>())
          .add(
              new PathStep(
                  h.netns(),
                  h.table().orElse(""),
                  h.chain().orElse(""),
                  h.position().get(),
                  h.rule().orElse(""),
                  h.detail()));
    }
    return out;
  }

  /** How many steps, namespace by namespace from the start, the two paths share. */
  private static int commonSteps(
      Map<String, List<PathStep>> model, Map<String, List<PathStep>> kernel) {
    return common(model, kernel, PathStep::sameAs);
  }

  private static int commonRuns(
      Map<String, List<ProgramStep>> model, Map<String, List<ProgramStep>> kernel) {
    return common(model, kernel, ProgramStep::sameAs);
  }

  private static <T> int common(
      Map<String, List<T>> model, Map<String, List<T>> kernel, BiPredicate<T, T> same) {
    int n = 0;
    for (var e : model.entrySet()) {
      n += commonPrefix(e.getValue(), kernel.getOrDefault(e.getKey(), List.of()), same);
    }
    return n;
  }

  private static <T> int commonPrefix(List<T> m, List<T> k, BiPredicate<T, T> same) {
    int i = 0;
    while (i < m.size() && i < k.size() && same.test(m.get(i), k.get(i))) {
      i++;
    }
    return i;
  }

  /**
   * Where two paths part in a namespace: how many steps they share there, then each side's next
   * step (empty where that side has none).
   */
  private record Parting<T>(String netns, int common, Optional<T> model, Optional<T> kernel) {}

  private static <T> List<Parting<T>> partings(
      Map<String, List<T>> model, Map<String, List<T>> kernel, BiPredicate<T, T> same) {
    Set<String> namespaces = new LinkedHashSet<>(model.keySet());
    namespaces.addAll(kernel.keySet());
    List<Parting<T>> out = new ArrayList<>();
    for (String ns : namespaces) {
      List<T> m = model.getOrDefault(ns, List.of());
      List<T> k = kernel.getOrDefault(ns, List.of());
      int i = commonPrefix(m, k, same);
      if (i < m.size() || i < k.size()) {
        out.add(
            new Parting<>(
                ns,
                i,
                i < m.size() ? Optional.of(m.get(i)) : Optional.empty(),
                i < k.size() ? Optional.of(k.get(i)) : Optional.empty()));
      }
    }
    return out;
  }

  /** Where the programs' runs part, namespace by namespace, in words. */
  static List<String> programDifferences(
      Map<String, List<ProgramStep>> model,
      Map<String, List<ProgramStep>> kernel,
      Function<String, String> label) {
    return partings(model, kernel, ProgramStep::sameAs).stream()
        .map(
            p ->
                label.apply(p.netns())
                    + ": after "
                    + p.common()
                    + " program run"
                    + (p.common() == 1 ? "" : "s")
                    + " in common, "
                    + p.model()
                        .map(m -> "the model ran " + m)
                        .orElse("the model ran no further program")
                    + "; "
                    + p.kernel()
                        .map(k -> "the kernel ran " + k)
                        .orElse("the kernel ran no further program"))
        .toList();
  }

  private static List<String> differences(
      Map<String, List<PathStep>> model,
      Map<String, List<PathStep>> kernel,
      Function<String, String> label) {
    return partings(model, kernel, PathStep::sameAs).stream()
        .map(
            p ->
                label.apply(p.netns())
                    + ": after "
                    + p.common()
                    + " rule"
                    + (p.common() == 1 ? "" : "s")
                    + " in common, "
                    + p.model()
                        .map(m -> "the model matched " + m.where() + " (" + m.rule() + ")")
                        .orElse("the model matched no further rule")
                    + "; "
                    + p.kernel()
                        .map(
                            k ->
                                "the kernel matched "
                                    + k.where()
                                    + " ("
                                    + k.rule()
                                    + ", verdict "
                                    + k.outcome()
                                    + ")")
                        .orElse("the kernel matched no further rule"))
        .toList();
  }
}
