package dev.tweed.dataplane.nftnl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class NftScriptCompilerTest {
  private static final String SCRIPT =
      """
      add table ip t { comment "rules for kube-proxy" ; }
      add map ip t service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; comment "a; b { c }" ; }
      add chain ip t svc
      add rule ip t svc numgen random mod 2 vmap { 0 : goto svc , 1 : goto svc }
      add element ip t service-ips { 10.96.0.10 . tcp . 80 comment "default/web:http" : goto svc }
      """;

  @Test
  void aQuotedCommentIsOneWordWhateverItHolds() {
    assertThat(NftTokens.split("add chain ip t c { comment \"a; b { c }\" ; }"))
        .containsExactly(
            "add", "chain", "ip", "t", "c", "{", "comment", "\"a; b { c }\"", ";", "}");
  }

  @Test
  void eachLineIsAChangeAndAnAnonymousMapTwoMore() {
    // table, map, chain, the rule's map and its elements, the rule, the element
    assertThat(NftScriptCompiler.compile(SCRIPT).size()).isEqualTo(7);
  }

  @Test
  void onlyTheLastMessageAsksForAnAnswer() {
    byte[] batch = NftScriptCompiler.compile(SCRIPT).bytes();
    List<Integer> flags = new ArrayList<>();
    ByteBuffer b = ByteBuffer.wrap(batch).order(ByteOrder.nativeOrder());
    for (int off = 0; off < batch.length; off += (b.getInt(off) + 3) & ~3) {
      flags.add(b.getShort(off + 6) & NftMessages.NLM_F_ACK);
    }
    // begin, 7 changes, end
    assertThat(flags).containsExactly(0, 0, 0, 0, 0, 0, 0, NftMessages.NLM_F_ACK, 0);
  }

  @Test
  void aStatementItDoesNotKnowIsRefusedWithItsLine() {
    assertThatThrownBy(() -> NftScriptCompiler.compile("add rule ip t svc meta nftrace set 1"))
        .isInstanceOf(NftScriptCompiler.UnsupportedLineException.class)
        .hasMessageContaining("add rule ip t svc meta nftrace set 1");
    assertThatThrownBy(
            () ->
                NftScriptCompiler.compile(
                    "add rule ip t svc ip saddr != { 10.0.0.0/8, 1.0.0.0/8 } log level warn drop"))
        .hasMessageContaining("statement at \"log\"");
    assertThatThrownBy(
            () -> NftScriptCompiler.compile("add rule ip t svc ct state established,dying accept"))
        .hasMessageContaining("ct state dying");
    assertThatThrownBy(() -> NftScriptCompiler.compile("add table inet t"))
        .hasMessageContaining("not an ip table's object");
  }
}
