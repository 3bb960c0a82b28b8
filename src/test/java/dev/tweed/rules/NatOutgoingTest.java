package dev.tweed.rules;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tweed.model.Cidr;
import java.util.List;
import org.junit.jupiter.api.Test;

class NatOutgoingTest {
  @Test
  void eachFamilyMasqueradesWhatLeavesItsPodCidr() {
    assertThat(new NatOutgoing(Cidr.parse("10.244.0.0/16")).iptablesChains())
        .containsOnlyKeys(NatOutgoing.CHAIN)
        .containsValue(
            List.of(
                "-A tweed-nat-outgoing -s 10.244.0.0/16 ! -d 10.244.0.0/16 -m comment --comment"
                    + " \"pods to outside the cluster\" -j MASQUERADE --random-fully"));
    assertThat(
            new NatOutgoing(Cidr.parse("fd00:10:244::/56")).iptablesChains().get(NatOutgoing.CHAIN))
        .singleElement()
        .asString()
        .contains("-s fd00:10:244::/56 ! -d fd00:10:244::/56");
  }

  @Test
  void nftablesModeHasItsOwnNatTable() {
    assertThat(new NatOutgoing(Cidr.parse("10.244.0.0/16")).nftables().render())
        .contains("table ip tweed-nat")
        .contains("type nat hook postrouting priority srcnat + 10")
        .contains("ip saddr 10.244.0.0/16 ip daddr != 10.244.0.0/16 masquerade fully-random");
    assertThat(new NatOutgoing(Cidr.parse("fd00:10:244::/56")).nftables().render())
        .contains("add table ip6 tweed-nat")
        .contains(
            "add rule ip6 tweed-nat postrouting ip6 saddr fd00:10:244::/56"
                + " ip6 daddr != fd00:10:244::/56 masquerade fully-random");
  }
}
