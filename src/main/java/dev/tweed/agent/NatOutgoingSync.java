package dev.tweed.agent;

import dev.tweed.dataplane.NatOutgoingWriter;
import dev.tweed.dataplane.NftablesWriter;
import dev.tweed.model.Cidr;
import dev.tweed.model.FamilyCidrs;
import dev.tweed.model.ProxyMode;
import dev.tweed.rules.NatOutgoing;
import java.util.List;

/**
 * NAT-outgoing for each family of the cluster, in the proxy mode's tables (iptables/ip6tables, or
 * nftables' own {@code tweed-nat} table). Its rules follow from the pod CIDRs alone: written at the
 * first sync, compared with the kernel at each full one.
 */
final class NatOutgoingSync {
  private final ProxyMode mode;
  private final List<NatOutgoing> rules;
  private final List<NatOutgoingWriter> iptables;
  private final NftablesWriter nftables;
  private boolean written;

  NatOutgoingSync(ProxyMode mode, FamilyCidrs pods) {
    this.mode = mode;
    this.rules = pods.cidrs().stream().map(NatOutgoing::new).toList();
    this.iptables =
        pods.cidrs().stream()
            .map(Cidr::family)
            .map(f -> new NatOutgoingWriter(List.of(), f))
            .toList();
    this.nftables = mode == ProxyMode.NFTABLES ? NftablesWriter.here() : null;
  }

  void sync(boolean full) {
    if (written && !full) {
      return;
    }
    for (int i = 0; i < rules.size(); i++) {
      switch (mode) {
        case IPTABLES -> iptables.get(i).sync(rules.get(i), true);
        case NFTABLES -> nftables.sync(rules.get(i).nftables(), true);
      }
    }
    written = true;
  }
}
