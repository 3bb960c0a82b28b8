package dev.tweed.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tweed.dataplane.PolicyIptablesWriter;
import dev.tweed.lab.Namespaces;
import dev.tweed.policy.IptablesPolicyRenderer;
import dev.tweed.policy.IptablesPolicyRuleset;
import dev.tweed.policy.PolicyFixtures;
import dev.tweed.sys.Command;
import java.util.List;
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
}
