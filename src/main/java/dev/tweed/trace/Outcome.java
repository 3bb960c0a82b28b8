package dev.tweed.trace;

import dev.tweed.kernel.netfilter.NatTranslation;
import dev.tweed.trace.bpf.ProgramConnection;
import java.util.List;
import java.util.Optional;

/**
 * One way the journey can end: a branch of the tree of random forks, with its probability and all
 * its hops from the start.
 *
 * @param verdict delivered, forwarded, dropped, rejected, or uncertain (the model met something it
 *     cannot evaluate; {@code assumed} then says what it would conclude)
 * @param forks the branch taken at each random fork on the way
 * @param conntrack the connections the packet left in the namespaces it crossed (the last: where it
 *     ended), from which its reply is traced
 * @param programConnections the connections Tweed's tc programs recorded for it
 */
public record Outcome(
    String verdict,
    String assumed,
    String reason,
    Optional<String> rule,
    List<NatTranslation> nat,
    Optional<Egress> egress,
    List<Hop> hops,
    double probability,
    List<Integer> forks,
    List<String> uncertainties,
    List<ConntrackEntry> conntrack,
    List<ProgramConnection> programConnections) {

  /** Where a forwarded packet leaves the traced namespaces. */
  public record Egress(String netns, String iface, String nextHop) {}
}
