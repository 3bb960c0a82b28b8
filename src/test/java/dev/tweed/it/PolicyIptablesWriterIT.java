package dev.tweed.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tweed.dataplane.PolicyIptablesWriter;
import dev.tweed.lab.Namespaces;
import dev.tweed.policy.IptablesPolicyRenderer;
import dev.tweed.policy.IptablesPolicyRuleset;
import dev.tweed.policy.PolicyFixtures;
import dev.tweed.sys.Command;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The policy writer against the kernel's own ipset and iptables, in a scratch namespace. */
class PolicyIptablesWriterIT {
  final String ns = "tw-pw" + Integer.toString(ThreadLocalRandom.current().nextInt(1 << 20), 36);

  @AfterEach
  void cleanup() {
    Namespaces.delete(ns);
  }

  private String ipsetSave() {
    return Command.run(List.of("ip", "netns", "exec", ns, "ipset", "save"))
        .lines()
        .map(l -> l.replaceAll(" initval 0x\\p{XDigit}+", ""))
        .sorted()
        .reduce("", (a, b) -> a + b + "\n");
  }

  @Test
  void aFullSyncOfAnUnchangedKernelChangesNoSetAndKeepsExceptions() throws Exception {
    Namespaces.add(ns);
    PolicyIptablesWriter writer = new PolicyIptablesWriter(List.of("ip", "netns", "exec", ns));
    IptablesPolicyRuleset want = new IptablesPolicyRenderer().render(PolicyFixtures.intent());

    writer.sync(want, false);
    String afterFirst = ipsetSave();
    assertThat(afterFirst).contains(" nomatch");

    PolicyIptablesWriter.SyncStats full = writer.sync(want, true);
    assertThat(full.full()).isTrue();
    assertThat(full.setChanges()).as("set changes of a full sync over identical sets").isZero();
    assertThat(ipsetSave()).isEqualTo(afterFirst);

    // A fresh writer (an agent restart) starts with a full sync of what is already there.
    PolicyIptablesWriter.SyncStats restarted =
        new PolicyIptablesWriter(List.of("ip", "netns", "exec", ns)).sync(want, false);
    assertThat(restarted.setChanges()).isZero();
    assertThat(ipsetSave()).isEqualTo(afterFirst);
  }

  /**
   * The drift check between full comparisons counts each set's members: a member added or removed
   * behind the writer's back, or a set flushed, is seen; the writer's own sets are not.
   */
  @Test
  void setSizesSeeAMemberAddedOrRemovedBehindTheWritersBack() throws Exception {
    Namespaces.add(ns);
    PolicyIptablesWriter writer = new PolicyIptablesWriter(List.of("ip", "netns", "exec", ns));
    assertThat(writer.setSizesMoved()).as("before the first write").isTrue();
    IptablesPolicyRuleset want = new IptablesPolicyRenderer().render(PolicyFixtures.intent());
    writer.sync(want, false);
    assertThat(writer.setSizesMoved()).as("right after the writer's own write").isFalse();

    IptablesPolicyRuleset.Ipset set =
        want.ipsets().values().stream()
            .filter(s -> !s.entries().isEmpty())
            .findFirst()
            .orElseThrow();
    List<String> ipset = List.of("ip", "netns", "exec", ns, "ipset");
    String member = set.entries().first();
    Command.run(concat(ipset, "del", set.name(), member.split(" ")[0]));
    assertThat(writer.setSizesMoved()).as("a member removed").isTrue();
    List<String> add = concat(ipset, "add", set.name());
    add.addAll(List.of(member.split(" ")));
    Command.run(add);
    assertThat(writer.setSizesMoved()).as("the same member added back").isFalse();

    writer.sync(want, true);
    Command.run(concat(ipset, "flush", set.name()));
    assertThat(writer.setSizesMoved()).as("a set flushed").isTrue();
    writer.sync(want, true);
    assertThat(writer.setSizesMoved()).as("after the repairing full sync").isFalse();
  }

  private static List<String> concat(List<String> head, String... tail) {
    List<String> out = new ArrayList<>(head);
    out.addAll(List.of(tail));
    return out;
  }

  private String ruleHandles() {
    return Command.run(
        List.of("ip", "netns", "exec", ns, "nft", "-a", "list", "table", "ip", "filter"));
  }

  private String filterSave() {
    return Command.run(List.of("ip", "netns", "exec", ns, "iptables-save", "-t", "filter"))
        .lines()
        .filter(l -> !l.startsWith("#"))
        .reduce("", (a, b) -> a + b + "\n");
  }

  @Test
  void aFullSyncLeavesUnchangedChainsAloneAndRewritesADriftedOne() throws Exception {
    Namespaces.add(ns);
    PolicyIptablesWriter writer = new PolicyIptablesWriter(List.of("ip", "netns", "exec", ns));
    IptablesPolicyRuleset want = new IptablesPolicyRenderer().render(PolicyFixtures.intent());
    writer.sync(want, false);
    String handles = ruleHandles();
    String rules = filterSave();

    for (int i = 0; i < 3; i++) {
      PolicyIptablesWriter.SyncStats full = writer.sync(want, true);
      assertThat(full.chainsWritten()).as("chains a full sync of unchanged rules writes").isZero();
    }
    assertThat(ruleHandles())
        .as("rule handles after full syncs of unchanged rules")
        .isEqualTo(handles);

    String drifted =
        want.filter().entrySet().stream()
            .filter(e -> !e.getValue().isEmpty())
            .map(Map.Entry::getKey)
            .findFirst()
            .orElseThrow();
    Command.run(List.of("ip", "netns", "exec", ns, "iptables", "-t", "filter", "-D", drifted, "1"));
    assertThat(filterSave()).isNotEqualTo(rules);
    PolicyIptablesWriter.SyncStats repair = writer.sync(want, true);
    assertThat(repair.chainsWritten()).as("only the drifted chain is written").isEqualTo(1);
    assertThat(filterSave()).isEqualTo(rules);
  }
}
