package dev.tweed.dataplane;

import dev.tweed.model.IpFamily;
import dev.tweed.rules.IptablesChains;
import dev.tweed.rules.NatOutgoing;
import dev.tweed.sys.Command;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Keeps one family's NAT-outgoing chain in the nat table ({@code iptables} or {@code ip6tables}):
 * written when it differs from the kernel's, the jump from POSTROUTING ensured. When to compare is
 * the caller's to decide: the chain changes only with the pod CIDR.
 */
public final class NatOutgoingWriter {
  private final List<String> prefix;
  private final IpFamily family;

  public NatOutgoingWriter(List<String> commandPrefix, IpFamily family) {
    this.prefix = List.copyOf(commandPrefix);
    this.family = family;
  }

  /** Compares the chain with the kernel's and writes it when it differs. */
  public void sync(NatOutgoing want) {
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
  }

  private List<String> argv(String... cmd) {
    List<String> out = new ArrayList<>(prefix);
    out.addAll(List.of(cmd));
    return out;
  }
}
