package dev.tweed.agent;

import dev.tweed.dataplane.NatOutgoingWriter;
import dev.tweed.dataplane.NftablesWriter;
import dev.tweed.model.FamilyCidrs;
import dev.tweed.model.ProxyMode;
import dev.tweed.rules.NatOutgoing;
import dev.tweed.rules.NftablesRuleset;
import java.util.List;

/**
 * NAT-outgoing for each family of the cluster, in the proxy mode's tables (iptables/ip6tables, or
 * nftables' own {@code tweed-nat} table, {@code ip} and {@code ip6}). Its rules follow from the pod
 * CIDRs alone: written at the first sync, compared with the kernel at each full one.
 */
final class NatOutgoingSync {
  /** One write per family, each comparing its rules with the kernel's. */
  private final List<Runnable> writes;

  private boolean written;

  NatOutgoingSync(ProxyMode mode, FamilyCidrs pods) {
    this.writes =
        pods.cidrs().stream()
            .map(NatOutgoing::new)
            .map(
                rules ->
                    switch (mode) {
                      case IPTABLES -> {
                        NatOutgoingWriter w = new NatOutgoingWriter(List.of(), rules.family());
                        yield (Runnable) () -> w.sync(rules);
                      }
                      case NFTABLES -> {
                        // A writer per table: each remembers the one it wrote.
                        NftablesWriter nft = NftablesWriter.here();
                        NftablesRuleset table = rules.nftables();
                        yield (Runnable) () -> nft.sync(table, true);
                      }
                    })
            .toList();
  }

  void sync(boolean full) {
    if (written && !full) {
      return;
    }
    writes.forEach(Runnable::run);
    written = true;
  }
}
