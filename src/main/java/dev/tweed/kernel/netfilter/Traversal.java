package dev.tweed.kernel.netfilter;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * One branch of a packet's traversal of a hook's rules, in progress: the packet and its connection
 * as the rules left them, the branch's probability and random choices, the steps taken, the
 * translations made and what could not be evaluated. Shared by the iptables and nftables
 * evaluators.
 */
public record Traversal(
    PacketContext ctx,
    double probability,
    List<Integer> forks,
    List<XtStep> steps,
    List<NatTranslation> nat,
    List<String> uncertainties) {

  public static Traversal start(PacketContext ctx) {
    return new Traversal(ctx, 1.0, List.of(), List.of(), List.of(), List.of());
  }

  public Traversal step(XtStep s) {
    return new Traversal(ctx, probability, forks, append(steps, s), nat, uncertainties);
  }

  public Traversal with(PacketContext c) {
    return new Traversal(c, probability, forks, steps, nat, uncertainties);
  }

  public Traversal nat(NatTranslation t) {
    return new Traversal(ctx, probability, forks, steps, append(nat, t), uncertainties);
  }

  public Traversal uncertain(String why) {
    return new Traversal(ctx, probability, forks, steps, nat, append(uncertainties, why));
  }

  /** Branch {@code branch} of a random choice, taken with probability {@code p}. */
  public Traversal fork(int branch, double p) {
    return new Traversal(ctx, probability * p, append(forks, branch), steps, nat, uncertainties);
  }

  /** Marks step {@code index} (a random rule's) with {@code note}. */
  public Traversal noted(int index, String note) {
    if (index >= steps.size()) {
      return this;
    }
    List<XtStep> s = new ArrayList<>(steps);
    XtStep x = s.get(index);
    s.set(
        index,
        new XtStep(x.table(), x.chain(), x.position(), x.rule(), x.action(), Optional.of(note)));
    return new Traversal(ctx, probability, forks, List.copyOf(s), nat, uncertainties);
  }

  /** The traversal's end, as an outcome of the table or chain it ran through. */
  public XtOutcome outcome(
      XtVerdict verdict, Optional<XtRule> deciding, Optional<String> rejectWith) {
    return new XtOutcome(
        ctx, probability, forks, steps, nat, uncertainties, verdict, deciding, rejectWith);
  }

  static <T> List<T> append(List<T> list, T item) {
    List<T> out = new ArrayList<>(list);
    out.add(item);
    return List.copyOf(out);
  }
}
