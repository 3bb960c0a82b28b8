package dev.tweed.dataplane.nftnl;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class NftBatchOrderTest {
  private static final String T = "ip t";

  @Test
  void rulesBindingAnonymousSetsComeFirstAfterWhatTheyNeed() {
    List<String> script =
        List.of(
            "add table " + T,
            "delete table " + T,
            "add table " + T,
            "add chain " + T + " mark-for-masquerade",
            "add rule " + T + " mark-for-masquerade mark set mark or 0x4000",
            "add map "
                + T
                + " service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; }",
            "add chain " + T + " endpoint-a",
            "add rule " + T + " endpoint-a ip saddr 10.0.0.1 jump mark-for-masquerade",
            "add chain " + T + " endpoint-b",
            "add chain " + T + " service-x",
            "add rule " + T + " service-x ip saddr != 10.0.0.0/8 jump mark-for-masquerade",
            "add rule "
                + T
                + " service-x numgen random mod 2 vmap { 0 : goto endpoint-a , 1 : goto endpoint-b }",
            "add element " + T + " service-ips { 10.96.0.1 . tcp . 80 : goto service-x }",
            "add rule " + T + " endpoint-b ip saddr 10.0.0.2 jump mark-for-masquerade");
    List<String> ordered = NftBatchOrder.of(script);
    assertThat(ordered).containsExactlyInAnyOrderElementsOf(script);
    assertThat(ordered.subList(0, 4))
        .containsExactly(
            "add table " + T,
            "delete table " + T,
            "add table " + T,
            "add map "
                + T
                + " service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; }");
    int vmap = indexOfContaining(ordered, "vmap {");
    // Before the rule: its chain, its targets, the rule before it in its chain; nothing else.
    assertThat(ordered.subList(4, vmap))
        .containsExactlyInAnyOrder(
            "add chain " + T + " service-x",
            "add chain " + T + " mark-for-masquerade",
            "add rule " + T + " service-x ip saddr != 10.0.0.0/8 jump mark-for-masquerade",
            "add chain " + T + " endpoint-a",
            "add chain " + T + " endpoint-b");
    assertThat(indexOfContaining(ordered, "service-x ip saddr")).isLessThan(vmap);
    assertThat(indexOfContaining(ordered, "add chain " + T + " service-x"))
        .isLessThan(indexOfContaining(ordered, "service-x ip saddr"));
    // The rest keeps the script's order.
    assertThat(ordered.subList(vmap + 1, ordered.size()))
        .containsExactly(
            "add rule " + T + " mark-for-masquerade mark set mark or 0x4000",
            "add rule " + T + " endpoint-a ip saddr 10.0.0.1 jump mark-for-masquerade",
            "add element " + T + " service-ips { 10.96.0.1 . tcp . 80 : goto service-x }",
            "add rule " + T + " endpoint-b ip saddr 10.0.0.2 jump mark-for-masquerade");
  }

  @Test
  void aScriptThatDoesNotReplaceATableKeepsItsOrder() {
    List<String> partial =
        List.of(
            "flush chain " + T + " service-x",
            "add rule " + T + " service-x numgen random mod 1 vmap { 0 : goto endpoint-a }");
    assertThat(NftBatchOrder.of(partial)).isSameAs(partial);
  }

  private static int indexOfContaining(List<String> lines, String part) {
    for (int i = 0; i < lines.size(); i++) {
      if (lines.get(i).contains(part)) {
        return i;
      }
    }
    return -1;
  }
}
