package dev.tweed.kernel.netfilter;

import java.util.List;
import java.util.Optional;

/**
 * One way a table's traversal of a hook can end for the packet; several when a random match forked
 * the path.
 *
 * @param ctx the packet and its connection after this table (NAT and marks applied)
 * @param probability of this outcome, given the packet reached the table
 * @param forks for each random fork on the way, the index of the branch taken (0 = matched)
 * @param deciding the rule whose target ended the traversal, if a rule did
 * @param rejectWith for REJECT: the ICMP type or TCP reset sent back
 */
public record XtOutcome(
    PacketContext ctx,
    double probability,
    List<Integer> forks,
    List<XtStep> steps,
    List<NatTranslation> nat,
    List<String> uncertainties,
    XtVerdict verdict,
    Optional<XtRule> deciding,
    Optional<String> rejectWith) {}
