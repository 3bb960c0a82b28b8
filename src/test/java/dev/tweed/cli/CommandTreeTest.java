package dev.tweed.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tweed.model.Datapath;
import dev.tweed.model.ProxyMode;
import dev.tweed.model.Routing;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class CommandTreeTest {
  @Test
  void aCallIsGivenOnlyTheBranchItTakes() {
    CommandLine cl = CommandTree.forArgs("lab", "get", "pods", "--lab", "x");
    assertThat(cl.getSubcommands()).containsOnlyKeys("lab");
    assertThat(cl.getSubcommands().get("lab").getSubcommands()).containsOnlyKeys("get");
    assertThat(cl.parseArgs("lab", "get", "pods", "--lab", "x").subcommand().subcommand())
        .extracting(r -> r.commandSpec().name())
        .isEqualTo("get");
  }

  @Test
  void versionNeedsNoSubcommandAndHelpListsThemAll() {
    assertThat(CommandTree.forArgs("--version").getSubcommands()).isEmpty();
    assertThat(CommandTree.forArgs("--help").getSubcommands())
        .containsKeys("lab", "agent", "trace", "bench", "help");
    assertThat(CommandTree.forArgs("help", "lab").getSubcommands()).containsKey("lab");
    assertThat(CommandTree.forArgs("lab", "bogus").getSubcommands().get("lab").getSubcommands())
        .as("an unknown subcommand gets every sibling, for picocli's suggestions")
        .containsKeys("get", "status", "up");
  }

  @Test
  void modesAreParsedOnceByNameAndAWrongNameIsRefusedWithTheNamesThereAre() {
    String[] args = {"lab", "up", "--proxy", "nftables", "--routing", "bgp", "--dataplane", "ebpf"};
    var up = CommandTree.forArgs(args).parseArgs(args).subcommand().subcommand();
    assertThat((Object) up.matchedOptionValue("--proxy", null)).isEqualTo(ProxyMode.NFTABLES);
    assertThat((Object) up.matchedOptionValue("--routing", null)).isEqualTo(Routing.BGP);
    assertThat((Object) up.matchedOptionValue("--dataplane", null)).isEqualTo(Datapath.EBPF);
    String[] bad = {"agent", "--node", "n", "--proxy-mode", "ipvs"};
    assertThatThrownBy(() -> CommandTree.forArgs(bad).parseArgs(bad))
        .isInstanceOf(CommandLine.ParameterException.class)
        .hasMessageContaining("--proxy-mode")
        .hasMessageContaining("must be iptables or nftables, got 'ipvs'");
  }

  @Test
  void theFullTreeHasEveryLevel() {
    CommandLine lab = CommandTree.full().getSubcommands().get("lab");
    assertThat(lab.getSubcommands().get("etcd").getSubcommands())
        .containsOnlyKeys("status", "stop", "start");
    assertThat(lab.getSubcommands().get("conformance").getSubcommands()).containsKey("netpol");
  }

  /** -o means the same everywhere: every command that prints JSON takes it from one mixin. */
  @Test
  void everyOutputOptionIsTheSharedOne() {
    List<String> checked = new ArrayList<>();
    walk(CommandTree.full(), checked);
    assertThat(checked).contains("get", "status", "probe", "reachability", "observe", "trace");
  }

  private static void walk(CommandLine cl, List<String> checked) {
    var spec = cl.getCommandSpec();
    if (spec.findOption("-o") != null) {
      assertThat(spec.mixins().values())
          .as(spec.qualifiedName() + " declares its own -o")
          .anyMatch(m -> m.userObject() instanceof OutputOption);
      checked.add(spec.name());
    }
    cl.getSubcommands().values().forEach(c -> walk(c, checked));
  }
}
