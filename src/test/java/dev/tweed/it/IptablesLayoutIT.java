package dev.tweed.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tweed.dataplane.IptablesWriter;
import dev.tweed.lab.Namespaces;
import dev.tweed.model.IpFamily;
import dev.tweed.proxy.IptablesRuleset;
import dev.tweed.proxy.IptablesServiceRenderer;
import dev.tweed.proxy.IptablesServiceRendererTest;
import dev.tweed.proxy.ProxyNode;
import dev.tweed.proxy.RandomServices;
import dev.tweed.proxy.ServicePort;
import dev.tweed.rules.JumpRule;
import dev.tweed.sys.Command;
import dev.tweed.sys.CommandFailedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Tweed's rendered rules, loaded into a scratch namespace and read back with iptables-save, equal
 * kube-proxy's rules for the same Services and EndpointSlices loaded the same way.
 */
class IptablesLayoutIT {
  final String suffix = Integer.toString(ThreadLocalRandom.current().nextInt(1 << 20), 36);
  final String tweedNs = "tw-ipt" + suffix + "-tweed";
  final String kubeNs = "tw-ipt" + suffix + "-kube";

  @AfterEach
  void cleanup() {
    Namespaces.delete(tweedNs);
    Namespaces.delete(kubeNs);
  }

  /** iptables-save without its header, footer and counters. */
  static String normalised(String save) {
    StringBuilder sb = new StringBuilder();
    for (String line : save.split("\n")) {
      if (!line.startsWith("#")) {
        sb.append(line.replaceAll("\\[\\d+:\\d+]", "[0:0]")).append('\n');
      }
    }
    return sb.toString();
  }

  static List<String> builtinChainRules(String save) {
    return normalised(save)
        .lines()
        .filter(l -> l.matches("-A (INPUT|FORWARD|OUTPUT|PREROUTING|POSTROUTING) .*"))
        .toList();
  }

  /** Loads a fixture in kube-proxy's form: "#JUMP TABLE CHAIN ARGS" lines, then restore input. */
  static void loadKubeProxyFixture(String ns, Path fixture) throws Exception {
    List<JumpRule> jumps = new ArrayList<>();
    StringBuilder restore = new StringBuilder();
    for (String line : Files.readAllLines(fixture)) {
      if (line.startsWith("#JUMP ")) {
        List<String> words = splitQuoted(line.substring(6));
        jumps.add(new JumpRule(words.get(0), words.get(1), words.subList(2, words.size())));
      } else if (!line.startsWith("#")) {
        restore.append(line).append('\n');
      }
    }
    IptablesWriter.inNamespace(ns).apply(IptablesRuleset.ofRestoreInput(restore.toString(), jumps));
  }

  static List<String> splitQuoted(String s) {
    List<String> out = new ArrayList<>();
    var m = Pattern.compile("\"[^\"]*\"|\\S+").matcher(s);
    while (m.find()) {
      out.add(m.group());
    }
    return out;
  }

  @Test
  void renderedRulesReadBackExactlyAsKubeProxysDo() throws Exception {
    Namespaces.add(tweedNs);
    Namespaces.add(kubeNs);
    Path rendered = Files.createTempFile("rules", ".txt");
    Command.Result r =
        Command.exec(
            List.of(
                Tweed.HOME.resolve("tweed").toString(),
                "proxy",
                "render",
                "-f",
                "src/test/resources/proxy/overall.yaml",
                "--node-name",
                "test-node",
                "--cluster-cidr",
                "10.0.0.0/8",
                "--node-ip",
                "192.168.0.2"),
            "",
            Map.of());
    assertThat(r.exitCode()).as(r.stderr()).isZero();
    // The rendered text carries its jump rules as comments: load it through the same fixture path.
    Files.writeString(
        rendered,
        r.stdout().replace("#   -t ", "#JUMP ").replaceAll("(?m)^#JUMP (\\S+) -I ", "#JUMP $1 "));
    loadKubeProxyFixture(tweedNs, rendered);
    loadKubeProxyFixture(kubeNs, Path.of("src/test/resources/proxy/overall-kube-proxy.rules"));
    String tweed = normalised(IptablesWriter.inNamespace(tweedNs).save());
    String kube = normalised(IptablesWriter.inNamespace(kubeNs).save());
    assertThat(tweed).contains("-A KUBE-SVC-XPGD46QRK7WJZT7O");
    assertThat(tweed).isEqualTo(kube);
    Files.delete(rendered);
  }

  @Test
  void aResyncDeletesStaleServiceChainsAndAFailedRestoreChangesNothing() throws Exception {
    Namespaces.add(tweedNs);
    var writer = IptablesWriter.inNamespace(tweedNs);
    var renderer = new IptablesServiceRenderer(new ProxyNode("test-node", "10.0.0.0/8", List.of()));
    var all = IptablesServiceRendererTest.overall();
    writer.apply(renderer.render(all));
    String full = writer.save();
    assertThat(full).contains(":KUBE-SVC-XPGD46QRK7WJZT7O");
    writer.apply(renderer.render(all.subList(1, all.size())));
    String fewer = writer.save();
    assertThat(fewer)
        .doesNotContain("KUBE-SVC-XPGD46QRK7WJZT7O")
        .doesNotContain("KUBE-SEP-SXIVWICOYRO3J4NJ");
    assertThat(builtinChainRules(fewer))
        .as("a resync neither duplicates nor drops jump rules")
        .isEqualTo(builtinChainRules(full))
        .doesNotHaveDuplicates()
        .hasSize(14);
    IptablesRuleset broken =
        IptablesRuleset.ofRestoreInput(
            renderer
                .render(all)
                .restoreInput()
                .replace("-j KUBE-MARK-MASQ\n", "-j KUBE-NO-SUCH-CHAIN\n"),
            List.of());
    try {
      writer.apply(broken);
      throw new AssertionError("a restore referring to a missing chain must fail");
    } catch (CommandFailedException expected) {
      assertThat(expected.getMessage()).contains("iptables-restore");
    }
    assertThat(normalised(writer.save())).isEqualTo(normalised(fewer));
  }

  @Test
  void aPartialSyncWritesOnlyTheChangedServiceAndEndsWhereAFullSyncWould() throws Exception {
    Namespaces.add(tweedNs);
    Namespaces.add(kubeNs);
    var renderer = new IptablesServiceRenderer(new ProxyNode("test-node", "10.0.0.0/8", List.of()));
    var all = IptablesServiceRendererTest.overall();
    var partial = IptablesWriter.inNamespace(tweedNs);
    partial.apply(renderer.render(all));
    // svc4 loses an endpoint; svc1 goes away entirely.
    List<ServicePort> changed = new ArrayList<>();
    for (var p : all) {
      if (p.name().equals("svc1")) {
        continue;
      }
      if (p.name().equals("svc4")) {
        p = p.withEndpoints(p.endpoints().subList(0, 1));
      }
      changed.add(p);
    }
    var stats = partial.sync(renderer.render(changed), false);
    assertThat(stats.full()).isFalse();
    assertThat(stats.servicesWritten()).isEqualTo(1);
    assertThat(stats.chainsDeleted()).as("svc1's SVC and SEP, svc4's second SEP").isEqualTo(3);
    IptablesWriter.inNamespace(kubeNs).apply(renderer.render(changed));
    assertThat(normalised(partial.save()))
        .isEqualTo(normalised(IptablesWriter.inNamespace(kubeNs).save()));
  }

  /**
   * Services changed one at a time at random, each rendered and written as the agent does (the
   * changed blocks alone; one sync in five a full one): after every change the namespace holds what
   * a whole write of the same Services into a fresh namespace holds.
   */
  @ParameterizedTest(name = "seed {0}, {1}")
  @CsvSource({"1, IPV4", "3, IPV6"})
  void servicesChangedOneAtATimeLeaveWhatAWholeWriteLeaves(long seed, IpFamily family) {
    Random random = new Random(seed);
    ProxyNode node =
        family == IpFamily.IPV4
            ? new ProxyNode("node-1", "10.244.0.0/16", List.of("172.31.0.11"))
            : new ProxyNode("node-1", "fd00:10:244::/56", List.of("fd00:172:31::11"));
    var renderer = new IptablesServiceRenderer(node);
    TreeMap<String, List<ServicePort>> services = new TreeMap<>();
    for (int i = 0; i < 12; i++) {
      services.put("svc" + i, RandomServices.service(random, i, family));
    }
    Namespaces.add(tweedNs);
    var writer = IptablesWriter.inNamespace(tweedNs, family);
    writer.apply(renderer.render(RandomServices.ports(services)));
    for (int step = 0; step < 20; step++) {
      String changed = RandomServices.changeOne(random, services, family);
      var update =
          renderer.update(
              Map.of(changed, services.getOrDefault(RandomServices.name(changed), List.of())));
      var stats = writer.sync(update.ruleset(), update.changes(), random.nextInt(5) == 0);
      if (!stats.full()) {
        assertThat(stats.servicesWritten()).isLessThanOrEqualTo(update.changes().size());
      }
      Namespaces.delete(kubeNs);
      Namespaces.add(kubeNs);
      var whole = IptablesWriter.inNamespace(kubeNs, family);
      whole.apply(new IptablesServiceRenderer(node).render(RandomServices.ports(services)));
      assertThat(byChain(writer.save()))
          .as("seed %d, after change %d", seed, step)
          .isEqualTo(byChain(whole.save()));
    }
  }

  /** A save's chains by table and name, each with its rules in order (chain order aside). */
  static Map<String, List<String>> byChain(String save) {
    Map<String, List<String>> out = new TreeMap<>();
    String table = "";
    for (String line : normalised(save).split("\n")) {
      if (line.startsWith("*")) {
        table = line.substring(1);
      } else if (line.startsWith(":")) {
        out.putIfAbsent(table + " " + line.substring(1, line.indexOf(' ')), new ArrayList<>());
      } else if (line.startsWith("-A ")) {
        String chain = line.substring(3, line.indexOf(' ', 3));
        out.computeIfAbsent(table + " " + chain, c -> new ArrayList<>()).add(line);
      }
    }
    return out;
  }
}
