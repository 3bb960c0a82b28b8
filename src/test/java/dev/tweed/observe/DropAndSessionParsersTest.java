package dev.tweed.observe;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** The metrics' readers of kernel counters and BIRD's protocol table, on real outputs. */
class DropAndSessionParsersTest {
  @Test
  void bgpSessionsAreCountedByTheStateBirdReports() {
    // birdc show protocols, BIRD 2.0.12 in a lab node; a second peer still connecting added.
    String out =
        """
        BIRD 2.0.12 ready.
        Name       Proto      Table      State  Since         Info
        device1    Device     ---        up     03:00:32.053
        blocks     Static     master4    up     03:00:32.053
        kernel1    Kernel     master4    up     03:00:32.053
        bfd1       BFD        ---        up     03:00:32.053
        peer_node_2 BGP        ---        up     03:00:32.774  Established
        peer_node_3 BGP        ---        start  2026-11-30 03:00:32  Active        Socket: Connection refused
        """;
    assertThat(BgpSessions.parse(out))
        .containsExactly(Map.entry("Active", 1L), Map.entry("Established", 1L));
  }

  @Test
  void iptablesDropCountersAreSummedByReasonInTweedsChainsOnly() {
    String save =
        """
        *filter
        :tweed-from-pods - [0:0]
        [3:180] -A tweed-from-pods -i tw1 ! -s 10.244.0.2/32 -m comment --comment "anti-spoofing: only default/a may send from tw1" -j DROP
        [2:120] -A tweed-tw-tw1 -m conntrack --ctstate INVALID -j DROP
        [5:300] -A tweed-tw-tw1 -m comment --comment "no ingress policy of default/a allows this" -j DROP
        [7:420] -A tweed-tw-tw2 -m comment --comment "no egress policy of default/b allows this" -j DROP
        [9:540] -A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
        [4:240] -A tweed-tw-tw1 -m mark --mark 0x10000/0x10000 -j RETURN
        COMMIT
        """;
    assertThat(NetfilterDrops.fromIptablesSave(save))
        .containsEntry("spoofed-source", 3L)
        .containsEntry("invalid", 2L)
        .containsEntry("policy-denied", 12L);
  }

  @Test
  void nftablesDropCountersAreReadFromTheRulesThatCountAndDrop() {
    String json =
        """
        {"nftables": [
          {"metainfo": {"version": "1.0.6"}},
          {"table": {"family": "ip", "name": "tweed-policy"}},
          {"rule": {"family": "ip", "table": "tweed-policy", "chain": "to-tw1", "handle": 7,
            "comment": "no ingress policy of default/a allows this",
            "expr": [{"counter": {"packets": 4, "bytes": 240}}, {"drop": null}]}},
          {"rule": {"family": "ip", "table": "tweed-policy", "chain": "from-pods", "handle": 3,
            "comment": "anti-spoofing: a pod sends from its own address only",
            "expr": [{"match": {"op": "!=", "left": {"payload": {"protocol": "ip", "field": "saddr"}},
              "right": "10.244.0.2"}}, {"counter": {"packets": 1, "bytes": 60}}, {"drop": null}]}},
          {"rule": {"family": "ip", "table": "tweed-policy", "chain": "to-tw1", "handle": 8,
            "expr": [{"counter": {"packets": 9, "bytes": 540}}, {"accept": null}]}}
        ]}
        """;
    assertThat(NetfilterDrops.fromNftJson(json))
        .containsEntry("policy-denied", 4L)
        .containsEntry("spoofed-source", 1L)
        .containsEntry("invalid", 0L);
  }
}
