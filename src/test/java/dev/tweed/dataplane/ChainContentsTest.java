package dev.tweed.dataplane;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ChainContentsTest {
  static final Map<String, List<String>> WANT =
      Map.of("KUBE-A", List.of("-A KUBE-A -j ACCEPT"), "KUBE-B", List.of("-A KUBE-B -j DROP"));
  // The kernel prints rules in its own form, which need not be the rendered text.
  static final Map<String, List<String>> KERNEL =
      Map.of("KUBE-A", List.of("-A KUBE-A -j ACCEPT"), "KUBE-B", List.of("-A KUBE-B  -j DROP"));

  @Test
  void aChainIsWrittenWhenItChangedAndOnlyThen() {
    ChainContents c = new ChainContents();
    assertThat(c.toWrite("nat", WANT, Map.of(), false)).containsOnlyKeys("KUBE-A", "KUBE-B");
    c.recorded("nat", WANT, List.of());
    assertThat(c.toWrite("nat", WANT, Map.of(), false)).isEmpty();
    var changed = Map.of("KUBE-A", List.of("-A KUBE-A -j DROP"), "KUBE-B", WANT.get("KUBE-B"));
    assertThat(c.toWrite("nat", changed, Map.of(), false)).containsOnlyKeys("KUBE-A");
    assertThat(c.vanished("nat", Set.of("KUBE-A"))).containsExactly("KUBE-B");
  }

  @Test
  void aFullSyncLeavesUnchangedChainsAloneAndRepairsDrift() {
    ChainContents c = new ChainContents();
    c.recorded("nat", WANT, List.of());
    // The first full sync after a write takes the kernel's text as the reference.
    assertThat(c.toWrite("nat", WANT, KERNEL, true)).isEmpty();
    assertThat(c.toWrite("nat", WANT, KERNEL, true)).isEmpty();
    var drifted = Map.of("KUBE-A", List.<String>of(), "KUBE-B", KERNEL.get("KUBE-B"));
    assertThat(c.toWrite("nat", WANT, drifted, true)).containsOnlyKeys("KUBE-A");
    var missing = Map.of("KUBE-B", KERNEL.get("KUBE-B"));
    assertThat(c.toWrite("nat", WANT, missing, true)).containsOnlyKeys("KUBE-A");
    c.clear();
    assertThat(c.toWrite("nat", WANT, KERNEL, true)).containsOnlyKeys("KUBE-A", "KUBE-B");
  }
}
