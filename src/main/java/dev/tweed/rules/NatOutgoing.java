package dev.tweed.rules;

import dev.tweed.model.Cidr;
import dev.tweed.model.IpFamily;
import dev.tweed.rules.nft.NftCommand;
import dev.tweed.rules.nft.NftCommand.AddChain;
import dev.tweed.rules.nft.NftCommand.AddRule;
import dev.tweed.rules.nft.NftCommand.AddTable;
import dev.tweed.rules.nft.NftCommand.Hook;
import dev.tweed.rules.nft.NftStatement.Address;
import dev.tweed.rules.nft.NftStatement.AddressIs;
import dev.tweed.rules.nft.NftStatement.MasqueradeFullyRandom;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * NAT-outgoing for one family, as felix writes it for a pool with {@code natOutgoing}: a packet
 * from a pod to an address outside the pod CIDR leaves with the node's address of that family
 * (MASQUERADE picks the outgoing interface's), so that whatever it reaches can answer without a
 * route to the pods. Pod to pod stays unchanged, in either routing mode: the destination is in the
 * CIDR. A Service's traffic is translated before (its destination is a backend pod by then).
 *
 * @param pods the cluster's pod CIDR of this family
 */
public record NatOutgoing(Cidr pods) {
  public static final String CHAIN = "tweed-nat-outgoing";
  public static final String NFT_TABLE = "tweed-nat";

  private static final String COMMENT = "pods to outside the cluster";

  public IpFamily family() {
    return pods.family();
  }

  /** The jump from nat POSTROUTING. */
  public static final JumpRule JUMP =
      new JumpRule(
          "nat",
          "POSTROUTING",
          List.of("-m", "comment", "--comment", "\"tweed NAT-outgoing\"", "-j", CHAIN));

  /** Tweed's nat chain, as {@code iptables-save} prints it (so that a read compares equal). */
  public Map<String, List<String>> iptablesChains() {
    Map<String, List<String>> nat = new LinkedHashMap<>();
    nat.put(
        CHAIN,
        List.of(
            "-A "
                + CHAIN
                + " -s "
                + pods
                + " ! -d "
                + pods
                + " -m comment --comment \""
                + COMMENT
                + "\" -j MASQUERADE --random-fully"));
    return nat;
  }

  /**
   * The same as its own nftables table of the family ({@code ip} or {@code ip6}). Its chain runs
   * just after the proxy's masquerading (srcnat, 100): two NAT chains at one priority run in the
   * order their hooks were registered, which no listing shows.
   */
  public NftablesRuleset nftables() {
    List<NftCommand> base =
        List.of(
            new AddTable(NFT_TABLE, Optional.empty()),
            AddChain.base(
                NFT_TABLE,
                "postrouting",
                new Hook("nat", "postrouting", "srcnat + 10", Optional.of("accept"))),
            AddRule.of(
                    NFT_TABLE,
                    "postrouting",
                    AddressIs.of(Address.SADDR, pods.toString()),
                    new AddressIs(Address.DADDR, true, List.of(pods.toString()), false),
                    new MasqueradeFullyRandom())
                .commented(COMMENT));
    return new NftablesRuleset(family(), NFT_TABLE, base, Map.of());
  }
}
