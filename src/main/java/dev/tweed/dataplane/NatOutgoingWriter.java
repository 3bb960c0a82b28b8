package dev.tweed.dataplane;

import dev.tweed.model.IpFamily;
import dev.tweed.rules.IptablesChains;
import dev.tweed.rules.NatOutgoing;
import dev.tweed.sys.Command;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Keeps one family's NAT-outgoing chain in the nat table ({@code iptables} or {@code ip6tables}):
 * written when it differs from the kernel's, the jump from POSTROUTING ensured. The chain only
 * changes with the pod CIDR, so between full syncs nothing is read.
 */
public final class NatOutgoingWriter {
  private final List<String> prefix;
  private final IpFamily family;
  private Optional<NatOutgoing> applied = Optional.empty();

  public NatOutgoingWriter(List<String> commandPrefix, IpFamily family) {
    this.prefix = List.copyOf(commandPrefix);
    this.family = family;
  }

  /** Returns whether the kernel was read (a full sync, or the first one). */
  public boolean sync(NatOutgoing want, boolean full) {
    if (!full && applied.equals(Optional.of(want))) {
      return false;
    }
    Map<String, List<String>> chains = want.iptablesChains();
    Map<String, List<String>> have =
        IptablesChains.parse(
            Command.run(argv(IptablesWriter.tool(family, "iptables-save"), "-t", "nat")),
            NatOutgoing.CHAIN::equals);
    if (!have.equals(chains)) {
      Command.run(
          argv(IptablesWriter.tool(family, "iptables-restore"), "-w", "--noflush"),
          IptablesChains.restoreInput(Map.of("nat", chains), Map.of("nat", List.of())));
    }
    IptablesWriter.ensureJumps(prefix, family, List.of(NatOutgoing.JUMP));
    applied = Optional.of(want);
    return true;
  }

  private List<String> argv(String... cmd) {
    List<String> out = new ArrayList<>(prefix);
    out.addAll(List.of(cmd));
    return out;
  }
}
