package dev.tweed.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tweed.dataplane.NftablesWriter;
import dev.tweed.dataplane.nftnl.NftBatch;
import dev.tweed.lab.Namespaces;
import dev.tweed.model.Json;
import dev.tweed.proxy.IptablesServiceRendererTest;
import dev.tweed.proxy.NftablesServiceRenderer;
import dev.tweed.proxy.ProxyNode;
import dev.tweed.proxy.ServicePort;
import dev.tweed.rules.NftablesRuleset;
import dev.tweed.rules.nft.NftCommand;
import dev.tweed.rules.nft.NftStatement;
import dev.tweed.rules.nft.NftVerdict;
import dev.tweed.sys.Command;
import dev.tweed.sys.CommandFailedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Tweed's nftables table, as the kernel holds it, equals kube-proxy's for the same inputs. */
class NftablesLayoutIT {
  final String suffix = Integer.toString(ThreadLocalRandom.current().nextInt(1 << 20), 36);
  final String tweedNs = "tw-nft" + suffix + "-tweed";
  final String kubeNs = "tw-nft" + suffix + "-kube";
  static final ProxyNode NODE = new ProxyNode("test-node", "10.0.0.0/8", List.of("192.168.0.2"));

  @AfterEach
  void cleanup() {
    Namespaces.delete(tweedNs);
    Namespaces.delete(kubeNs);
  }

  /** The table as the kernel lists it, without handles, with set elements in a stable order. */
  static String normalised(String ns) {
    return normalised(ns, "tweed-proxy");
  }

  /**
   * Table {@code table} of {@code ns} as {@code nft -j list table} prints it, without what the
   * order of writing changes: handles, the order of objects and of elements.
   */
  static String normalised(String ns, String table) {
    JsonNode listing =
        Json.parse(
            Command.run(
                List.of("ip", "netns", "exec", ns, "nft", "-j", "list", "table", "ip", table)));
    TreeMap<String, String> objects = new TreeMap<>();
    Map<String, Integer> ruleIndex = new TreeMap<>();
    for (JsonNode o : listing.path("nftables")) {
      String kind = o.fieldNames().next();
      if (kind.equals("metainfo")) {
        continue;
      }
      ObjectNode body = ((ObjectNode) o.get(kind)).deepCopy();
      body.remove("handle");
      if (body.has("elem")) {
        List<String> elems = new ArrayList<>();
        body.get("elem").forEach(e -> elems.add(e.toString()));
        elems.sort(null);
        ArrayNode sorted = Json.MAPPER.createArrayNode();
        elems.forEach(e -> sorted.add(Json.parse(e)));
        body.set("elem", sorted);
      }
      String id =
          kind.equals("rule")
              ? "rule "
                  + body.path("chain").asText()
                  + " #"
                  + ruleIndex.merge(body.path("chain").asText(), 1, Integer::sum)
              : kind + " " + body.path("name").asText();
      objects.put(id, body.toString());
    }
    StringBuilder sb = new StringBuilder();
    objects.forEach((k, v) -> sb.append(k).append(" = ").append(v).append('\n'));
    return sb.toString();
  }

  /** Loads an nft script, declaring every chain and set before any rule refers to it. */
  static void load(String ns, String script) {
    List<String> decls = new ArrayList<>();
    List<String> rest = new ArrayList<>();
    for (String l : script.split("\n")) {
      if (l.isBlank() || l.startsWith("#")) {
        continue;
      }
      (l.matches("add (table|chain|set|map) .*") ? decls : rest).add(l);
    }
    Command.run(
        List.of("ip", "netns", "exec", ns, "nft", "-f", "-"),
        String.join("\n", decls) + "\n" + String.join("\n", rest) + "\n");
  }

  @Test
  void renderedTableReadsBackExactlyAsKubeProxysDoes() throws Exception {
    Namespaces.add(tweedNs);
    Namespaces.add(kubeNs);
    Command.Result r =
        Command.exec(
            List.of(
                Tweed.HOME.resolve("tweed").toString(),
                "proxy",
                "render",
                "--mode",
                "nftables",
                "-f",
                "src/test/resources/proxy/overall.yaml",
                "--node-name",
                "test-node",
                "--cluster-cidr",
                "10.0.0.0/8",
                "--node-ip",
                "192.168.0.2",
                "--service-cidr",
                "172.30.0.0/16"),
            "",
            Map.of());
    assertThat(r.exitCode()).as(r.stderr()).isZero();
    Command.run(List.of("ip", "netns", "exec", tweedNs, "nft", "-f", "-"), r.stdout());
    load(kubeNs, Files.readString(Path.of("src/test/resources/proxy/overall-kube-proxy.nft")));
    String tweed = normalised(tweedNs);
    assertThat(tweed).contains("chain service-ULMVA6XW-ns1/svc1/tcp/p80");
    assertThat(tweed).isEqualTo(normalised(kubeNs));
  }

  /**
   * A Service's ports share their ClusterIP's element: a partial sync that removes one port keeps
   * it for the other, and one that removes both deletes it once (a transaction that deletes an
   * element twice is refused, and with it the whole sync).
   */
  @ParameterizedTest(name = "by nft: {0}")
  @ValueSource(booleans = {false, true})
  void portsOfOneServiceShareTheirClusterIpsElement(boolean nft) throws Exception {
    var renderer = scratchNamespaces();
    List<ServicePort.Endpoint> eps =
        List.of(new ServicePort.Endpoint("10.1.0.5", 8080, Optional.of("test-node")));
    ServicePort tcp = ServicePort.clusterIp("ns", "multi", "a", "TCP", "172.30.5.5", 80, eps);
    ServicePort udp = ServicePort.clusterIp("ns", "multi", "b", "UDP", "172.30.5.5", 53, eps);
    NftablesWriter writer = NftablesWriter.inNamespace(tweedNs, nft);
    writer.sync(renderer.render(List.of(tcp, udp)), true);
    NftablesRuleset one = renderer.render(List.of(tcp));
    writer.sync(one, false);
    NftablesWriter.inNamespace(kubeNs, true).sync(one, true);
    assertThat(normalised(tweedNs)).contains("172.30.5.5").isEqualTo(normalised(kubeNs));
    writer.sync(renderer.render(List.of(tcp, udp)), false);
    NftablesRuleset none = renderer.render(List.of());
    writer.sync(none, false);
    NftablesWriter.inNamespace(kubeNs, true).sync(none, true);
    assertThat(normalised(tweedNs)).doesNotContain("172.30.5.5").isEqualTo(normalised(kubeNs));
  }

  /** With either writer: a netlink batch from Java (the proxy's), or {@code nft -f}. */
  @ParameterizedTest(name = "by nft: {0}")
  @ValueSource(booleans = {false, true})
  void aPartialSyncEndsWhereAFullSyncWouldAndAFailedOneChangesNothing(boolean nft)
      throws Exception {
    var renderer = scratchNamespaces();
    List<ServicePort> all = IptablesServiceRendererTest.overall();
    NftablesWriter partial = NftablesWriter.inNamespace(tweedNs, nft);
    assertThat(partial.writer()).isEqualTo(nft ? "nft" : "netlink");
    partial.sync(renderer.render(all), true);
    List<ServicePort> changed = new ArrayList<>();
    for (ServicePort p : all) {
      if (p.name().equals("svc1")) {
        continue;
      }
      if (p.name().equals("svc4") || p.name().equals("svc5")) {
        p = p.withEndpoints(p.name().equals("svc4") ? p.endpoints().subList(0, 1) : List.of());
      }
      changed.add(p);
    }
    NftablesRuleset next = renderer.render(changed);
    var stats = partial.sync(next, false);
    assertThat(stats.full()).isFalse();
    assertThat(stats.servicesWritten()).isEqualTo(3);
    NftablesWriter.inNamespace(kubeNs, true).sync(next, true);
    String afterPartial = normalised(tweedNs);
    assertThat(afterPartial).isEqualTo(normalised(kubeNs));

    NftablesRuleset broken =
        new NftablesRuleset(
            next.family(),
            next.table(),
            next.base(),
            Map.of(
                "bad",
                List.of(
                    NftCommand.AddRule.of(
                        "tweed-proxy",
                        "no-such-chain",
                        new NftStatement.Verdict(NftVerdict.ACCEPT)))));
    try {
      NftablesWriter.inNamespace(tweedNs, nft).rewritingInPlaceFrom(0).sync(broken, true);
      throw new AssertionError("a transaction with a bad rule must fail");
    } catch (CommandFailedException expected) {
      assertThat(nft).isTrue();
      assertThat(expected.getMessage()).contains("nft");
    } catch (NftBatch.RefusedException expected) {
      assertThat(nft).isFalse();
      assertThat(expected.getMessage())
          .contains("add rule ip tweed-proxy no-such-chain accept: No such file or directory");
    }
    assertThat(normalised(tweedNs)).isEqualTo(afterPartial);
  }

  /**
   * Drift is repaired chain by chain and set by set: a rule deleted from a service's chain, an
   * element removed from a map, a chain added and a base chain's policy changed behind the writer's
   * back are put right by the next full sync, which rewrites those four objects only and leaves the
   * table equal to what {@code nft -f} of the whole ruleset makes.
   */
  @ParameterizedTest(name = "by nft: {0}")
  @ValueSource(booleans = {false, true})
  void aFullSyncRewritesOnlyWhatDrifted(boolean nft) throws Exception {
    var renderer = scratchNamespaces();
    NftablesRuleset rules = renderer.render(IptablesServiceRendererTest.overall());
    NftablesWriter writer = NftablesWriter.inNamespace(tweedNs, nft);
    writer.sync(rules, true);
    // The first full sync after a write takes the kernel's listing as its reference.
    assertThat(writer.sync(rules, true).servicesWritten()).isZero();
    String chain = "service-ULMVA6XW-ns1/svc1/tcp/p80";
    String handle =
        Command.run(
                List.of(
                    "ip",
                    "netns",
                    "exec",
                    tweedNs,
                    "nft",
                    "-a",
                    "list",
                    "chain",
                    "ip",
                    "tweed-proxy",
                    chain))
            .lines()
            .filter(l -> l.contains("# handle") && !l.contains("chain "))
            .reduce((a, b) -> b)
            .orElseThrow()
            .replaceAll(".*# handle (\\d+).*", "$1");
    nft(tweedNs, "delete rule ip tweed-proxy " + chain + " handle " + handle);
    nft(tweedNs, "delete element ip tweed-proxy service-ips { 172.30.0.41 . tcp . 80 }");
    nft(tweedNs, "add chain ip tweed-proxy not-tweeds");
    nft(tweedNs, "chain ip tweed-proxy filter-forward { policy drop ; }");
    var stats = writer.sync(rules, true);
    assertThat(stats.full()).isTrue();
    assertThat(stats.servicesWritten()).as("objects rewritten").isEqualTo(4);
    NftablesWriter.inNamespace(kubeNs, true).sync(rules, true);
    assertThat(normalised(tweedNs)).isEqualTo(normalised(kubeNs));
  }

  /**
   * A writer that starts over a table it did not write (the agent restarted; the Services changed
   * meanwhile; someone added a chain) writes it whole: by netlink in place, chain by chain, which
   * must leave exactly what {@code nft -f} of the ruleset leaves.
   */
  @ParameterizedTest(name = "by nft: {0}")
  @ValueSource(booleans = {false, true})
  void aRestartedWriterOverAnOldTableLeavesTheTableOfItsRuleset(boolean nft) throws Exception {
    var renderer = scratchNamespaces();
    List<ServicePort> all = IptablesServiceRendererTest.overall();
    NftablesWriter.inNamespace(tweedNs, nft).sync(renderer.render(all), true);
    nft(tweedNs, "add chain ip tweed-proxy not-tweeds");
    nft(tweedNs, "add rule ip tweed-proxy not-tweeds accept");
    List<ServicePort> changed = new ArrayList<>();
    for (ServicePort p : all) {
      if (!p.name().equals("svc1")) {
        changed.add(p.name().equals("svc4") ? p.withEndpoints(List.of()) : p);
      }
    }
    NftablesRuleset next = renderer.render(changed);
    var stats = NftablesWriter.inNamespace(tweedNs, nft).rewritingInPlaceFrom(0).sync(next, true);
    assertThat(stats.full()).isTrue();
    NftablesWriter.inNamespace(kubeNs, true).sync(next, true);
    assertThat(normalised(tweedNs)).doesNotContain("not-tweeds").isEqualTo(normalised(kubeNs));
  }

  /** Both scratch namespaces, and the renderer of the tests' node. */
  private NftablesServiceRenderer scratchNamespaces() {
    Namespaces.add(tweedNs);
    Namespaces.add(kubeNs);
    return new NftablesServiceRenderer(NODE, "172.30.0.0/16");
  }

  private static void nft(String ns, String command) {
    Command.run(List.of("ip", "netns", "exec", ns, "sh", "-c", "nft '" + command + "'"));
  }
}
