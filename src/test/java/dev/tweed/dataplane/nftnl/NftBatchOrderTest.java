package dev.tweed.dataplane.nftnl;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tweed.model.IpFamily;
import dev.tweed.rules.nft.NftCommand;
import dev.tweed.rules.nft.NftCommand.AddChain;
import dev.tweed.rules.nft.NftCommand.AddRule;
import dev.tweed.rules.nft.NftCommand.AddSet;
import dev.tweed.rules.nft.NftCommand.AddTable;
import dev.tweed.rules.nft.NftCommand.DeleteTable;
import dev.tweed.rules.nft.NftCommand.Elements;
import dev.tweed.rules.nft.NftCommand.Flush;
import dev.tweed.rules.nft.NftElement;
import dev.tweed.rules.nft.NftStatement;
import dev.tweed.rules.nft.NftStatement.Address;
import dev.tweed.rules.nft.NftStatement.AddressIs;
import dev.tweed.rules.nft.NftStatement.MarkOperation;
import dev.tweed.rules.nft.NftStatement.MarkSyntax;
import dev.tweed.rules.nft.NftStatement.RandomVerdict;
import dev.tweed.rules.nft.NftStatement.SetMark;
import dev.tweed.rules.nft.NftVerdict;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class NftBatchOrderTest {
  private static final String T = "ip t";

  @Test
  void rulesBindingAnonymousSetsComeFirstAfterWhatTheyNeed() {
    List<NftCommand> commands =
        List.of(
            new AddTable("t", Optional.empty()),
            new DeleteTable("t"),
            new AddTable("t", Optional.empty()),
            AddChain.regular("t", "mark-for-masquerade"),
            AddRule.of(
                "t",
                "mark-for-masquerade",
                new SetMark(MarkSyntax.SHORT, MarkOperation.OR, "0x4000")),
            AddSet.verdictMap(
                "t", "service-ips", List.of("ipv4_addr", "inet_proto", "inet_service"), null),
            AddChain.regular("t", "endpoint-a"),
            AddRule.of(
                "t",
                "endpoint-a",
                AddressIs.of(Address.SADDR, "10.0.0.1"),
                jump("mark-for-masquerade")),
            AddChain.regular("t", "endpoint-b"),
            AddChain.regular("t", "service-x"),
            AddRule.of(
                "t",
                "service-x",
                new AddressIs(Address.SADDR, true, List.of("10.0.0.0/8"), false),
                jump("mark-for-masquerade")),
            AddRule.of(
                "t",
                "service-x",
                new RandomVerdict(
                    List.of(NftVerdict.goTo("endpoint-a"), NftVerdict.goTo("endpoint-b")))),
            Elements.add(
                "t",
                "service-ips",
                NftElement.mapping(
                    NftVerdict.goTo("service-x"),
                    new NftElement.Address("10.96.0.1"),
                    new NftElement.Protocol("tcp"),
                    new NftElement.Port(80))),
            AddRule.of(
                "t",
                "endpoint-b",
                AddressIs.of(Address.SADDR, "10.0.0.2"),
                jump("mark-for-masquerade")));
    List<String> script = commands.stream().map(c -> c.script(IpFamily.IPV4)).toList();
    List<String> ordered =
        NftBatchOrder.of(commands).stream().map(c -> c.script(IpFamily.IPV4)).toList();
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
    List<NftCommand> partial =
        List.of(
            new Flush(NftCommand.Kind.CHAIN, "t", "service-x"),
            AddRule.of(
                "t", "service-x", new RandomVerdict(List.of(NftVerdict.goTo("endpoint-a")))));
    assertThat(NftBatchOrder.of(partial)).isSameAs(partial);
  }

  private static NftStatement jump(String chain) {
    return new NftStatement.Verdict(NftVerdict.jump(chain));
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
