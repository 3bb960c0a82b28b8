package dev.tweed.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tweed.dataplane.RulesetGeneration;
import dev.tweed.lab.Namespaces;
import dev.tweed.sys.Command;
import dev.tweed.sys.NetworkNamespace;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The drift check's cheap question, asked of a real kernel: a transaction by another writer (nft,
 * iptables-nft) moves the namespace's ruleset generation past the one the agent noted after its own
 * write, reading it moves nothing, and ipset changes, which are not nf_tables state, move nothing
 * either (which is why the iptables policy writer still compares its sets).
 */
class RulesetGenerationIT {
  private static final String NS = "tw-rgen";

  @AfterEach
  void cleanup() {
    Namespaces.delete(NS);
  }

  @Test
  void otherWritersMoveTheGenerationTheAgentNoted() throws Exception {
    Namespaces.add(NS);
    RulesetGeneration generation = new RulesetGeneration();
    assertThat(in(generation::touchedByOthers)).as("nothing noted yet").isTrue();

    run("nft", "add", "table", "ip", "tw-own");
    in(() -> noted(generation));
    assertThat(in(generation::touchedByOthers)).as("after the agent's own write").isFalse();
    assertThat(in(generation::touchedByOthers)).as("asking again moves nothing").isFalse();

    run("nft", "add", "table", "ip", "tw-other");
    assertThat(in(generation::touchedByOthers)).as("after another writer's nft").isTrue();

    in(() -> noted(generation));
    run("iptables", "-w", "-t", "filter", "-A", "INPUT", "-s", "192.0.2.1", "-j", "DROP");
    assertThat(in(generation::touchedByOthers)).as("after iptables-nft").isTrue();

    in(() -> noted(generation));
    run("ipset", "create", "tw-rgen-set", "hash:ip");
    run("ipset", "add", "tw-rgen-set", "192.0.2.7");
    assertThat(in(generation::touchedByOthers)).as("ipsets are not nf_tables state").isFalse();
    run("ipset", "destroy", "tw-rgen-set");
  }

  private static boolean noted(RulesetGeneration generation) {
    generation.ownWrite();
    return true;
  }

  private static void run(String... argv) {
    List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", NS));
    cmd.addAll(List.of(argv));
    Command.run(cmd);
  }

  private static <T> T in(Callable<T> c) throws Exception {
    return NetworkNamespace.call(NetworkNamespace.pathOf(NS), c);
  }
}
