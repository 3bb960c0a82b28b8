package dev.tweed.dataplane.nftnl;

import dev.tweed.model.IpFamily;
import dev.tweed.rules.nft.NftCommand;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * A table that does not exist yet, built in several batches. In one batch the kernel's cost grows
 * with the square of the table (each rule that binds an anonymous set walks every change of the
 * transaction so far), and a 10,000-service table takes minutes. Built in stages of a few thousand
 * commands, each stage's walk stays short. Nothing of it acts on a packet before the last stage:
 * the earlier ones hold only regular chains, sets and elements, which no hook reaches; the last one
 * adds the base chains and their rules, so traffic sees the whole table at once or none of it.
 */
public final class NftStagedBuild {
  /** Commands per stage: the walk per bound set stays under a few thousand changes. */
  static final int STAGE_COMMANDS = 4000;

  private NftStagedBuild() {}

  /**
   * The stages after the table's creation, for commands that replace a table of {@code family}
   * ({@link NftBatchOrder#replacesTable}) when that table does not exist: the unhooked objects in
   * stages of {@link #STAGE_COMMANDS}, then the base chains with their rules.
   */
  public static List<NftBatch> stages(IpFamily family, List<NftCommand> replace) {
    List<NftCommand> body = new ArrayList<>();
    List<NftCommand> hooked = new ArrayList<>();
    Set<String> baseChains = new HashSet<>();
    for (NftCommand c : replace) {
      if (c instanceof NftCommand.AddChain a && a.hook().isPresent()) {
        baseChains.add(a.name());
      }
    }
    for (NftCommand c : replace) {
      switch (c) {
        case NftCommand.AddTable t -> {}
        case NftCommand.DeleteTable t -> {}
        case NftCommand.AddChain a when a.hook().isPresent() -> hooked.add(c);
        case NftCommand.AddRule r when baseChains.contains(r.chain()) -> hooked.add(c);
        default -> body.add(c);
      }
    }
    List<NftCommand> ordered = NftBatchOrder.ordered(body);
    List<NftBatch> out = new ArrayList<>();
    for (int from = 0; from < ordered.size(); from += STAGE_COMMANDS) {
      out.add(
          NftEncoder.encode(
              family, ordered.subList(from, Math.min(ordered.size(), from + STAGE_COMMANDS))));
    }
    out.add(NftEncoder.encode(family, hooked));
    return out;
  }
}
