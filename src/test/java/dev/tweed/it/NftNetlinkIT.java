package dev.tweed.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tweed.bench.ServiceSyncBenchmark;
import dev.tweed.dataplane.NftablesWriter;
import dev.tweed.dataplane.nftnl.NftBatch;
import dev.tweed.dataplane.nftnl.NftEncoder;
import dev.tweed.dataplane.nftnl.NftExpr;
import dev.tweed.dataplane.nftnl.NftMessages;
import dev.tweed.dataplane.nftnl.NftMessages.BaseChain;
import dev.tweed.dataplane.nftnl.NftMessages.Element;
import dev.tweed.dataplane.nftnl.NftMessages.Hook;
import dev.tweed.dataplane.nftnl.NftMessages.Verdict;
import dev.tweed.dataplane.nftnl.NftSet;
import dev.tweed.dataplane.nftnl.NftSet.Type;
import dev.tweed.dataplane.nftnl.NftStagedBuild;
import dev.tweed.lab.LabResources;
import dev.tweed.model.IpFamily;
import dev.tweed.policy.NftablesPolicyRenderer;
import dev.tweed.policy.PolicyFixtures;
import dev.tweed.policy.PolicyIntent;
import dev.tweed.proxy.NftablesServiceRenderer;
import dev.tweed.proxy.NftablesServiceRendererTest;
import dev.tweed.proxy.ProxyNode;
import dev.tweed.proxy.ServicePortResolver;
import dev.tweed.rules.NftablesRuleset;
import dev.tweed.rules.nft.NftCommand;
import dev.tweed.rules.nft.NftCommand.AddRule;
import dev.tweed.rules.nft.NftStatement;
import dev.tweed.rules.nft.NftStatement.Address;
import dev.tweed.rules.nft.NftStatement.AddressIs;
import dev.tweed.rules.nft.NftStatement.DestinationPort;
import dev.tweed.rules.nft.NftStatement.L4Protocol;
import dev.tweed.rules.nft.NftStatement.MarkOperation;
import dev.tweed.rules.nft.NftStatement.MarkSyntax;
import dev.tweed.rules.nft.NftStatement.SetMark;
import dev.tweed.rules.nft.NftVerdict;
import dev.tweed.sys.NetworkNamespace;
import dev.tweed.sys.NfTablesSocket;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The nf_tables netlink writer against {@code nft} itself: its messages are the ones nft sends for
 * the same script (as {@code nft --debug=mnl} prints them), the table a committed batch leaves is
 * the one {@code nft -f} leaves (as {@code nft -j list table} prints it), and a batch the kernel
 * refuses changes nothing and names what it refused.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class NftNetlinkIT {
  private static final String TABLE = "tw-t";

  /** The script, and the same changes as the writer makes them. */
  private static final String SCRIPT =
      """
      add table ip tw-t { comment "rules for kube-proxy" ; }
      add set ip tw-t cluster-ips { type ipv4_addr ; comment "Active ClusterIPs" ; }
      add map ip tw-t service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; comment "ClusterIP traffic" ; }
      add map ip tw-t service-nodeports { type inet_proto . inet_service : verdict ; comment "NodePort traffic" ; }
      add set ip tw-t affinity-a { type ipv4_addr ; flags dynamic,timeout ; timeout 10800s ; }
      add chain ip tw-t services
      add chain ip tw-t nat-prerouting { type nat hook prerouting priority -100 ; }
      add chain ip tw-t filter-forward { type filter hook forward priority 0 ; }
      add element ip tw-t cluster-ips { 10.96.0.10 }
      add element ip tw-t service-ips { 10.96.0.10 . tcp . 80 : goto services }
      add element ip tw-t service-nodeports { tcp . 30080 : jump services }
      """;

  private static NftBatch batch() {
    NftBatch b = new NftBatch();
    b.add(
        "add table",
        NftMessages.addTable(IpFamily.IPV4, TABLE, Optional.of("rules for kube-proxy")));
    int clusterIps = b.newSetId();
    b.add(
        "add set cluster-ips",
        NftMessages.addSet(
            IpFamily.IPV4,
            TABLE,
            new NftSet(
                "cluster-ips",
                List.of(Type.IPV4_ADDR),
                false,
                false,
                Optional.empty(),
                Optional.of("Active ClusterIPs")),
            clusterIps));
    int serviceIps = b.newSetId();
    b.add(
        "add map service-ips",
        NftMessages.addSet(
            IpFamily.IPV4,
            TABLE,
            new NftSet(
                "service-ips",
                List.of(Type.IPV4_ADDR, Type.INET_PROTO, Type.INET_SERVICE),
                true,
                false,
                Optional.empty(),
                Optional.of("ClusterIP traffic")),
            serviceIps));
    int nodePorts = b.newSetId();
    b.add(
        "add map service-nodeports",
        NftMessages.addSet(
            IpFamily.IPV4,
            TABLE,
            new NftSet(
                "service-nodeports",
                List.of(Type.INET_PROTO, Type.INET_SERVICE),
                true,
                false,
                Optional.empty(),
                Optional.of("NodePort traffic")),
            nodePorts));
    int affinity = b.newSetId();
    b.add(
        "add set affinity-a",
        NftMessages.addSet(
            IpFamily.IPV4,
            TABLE,
            new NftSet(
                "affinity-a",
                List.of(Type.IPV4_ADDR),
                false,
                true,
                Optional.of(10800L),
                Optional.empty()),
            affinity));
    b.add(
        "add chain services",
        NftMessages.addChain(IpFamily.IPV4, TABLE, "services", Optional.empty()));
    b.add(
        "add chain nat-prerouting",
        NftMessages.addChain(
            IpFamily.IPV4,
            TABLE,
            "nat-prerouting",
            Optional.of(new BaseChain("nat", Hook.PREROUTING, -100))));
    b.add(
        "add chain filter-forward",
        NftMessages.addChain(
            IpFamily.IPV4,
            TABLE,
            "filter-forward",
            Optional.of(new BaseChain("filter", Hook.FORWARD, 0))));
    b.add(
        "add element cluster-ips",
        NftMessages.elements(
            IpFamily.IPV4,
            TABLE,
            "cluster-ips",
            Optional.of(clusterIps),
            List.of(new Element(List.of(ip(10, 96, 0, 10)), Optional.empty())),
            false));
    b.add(
        "add element service-ips",
        NftMessages.elements(
            IpFamily.IPV4,
            TABLE,
            "service-ips",
            Optional.of(serviceIps),
            List.of(
                new Element(
                    List.of(ip(10, 96, 0, 10), new byte[] {6}, port(80)),
                    Optional.of(Verdict.goTo("services")))),
            false));
    b.add(
        "add element service-nodeports",
        NftMessages.elements(
            IpFamily.IPV4,
            TABLE,
            "service-nodeports",
            Optional.of(nodePorts),
            List.of(
                new Element(
                    List.of(new byte[] {6}, port(30080)), Optional.of(Verdict.jump("services")))),
            false));
    return b;
  }

  /**
   * Rules of every form the proxy writes, on the table above, laid out so that the kernel's checks
   * pass (no loop, NAT only under NAT chains).
   */
  private static final String RULES =
      """
      add chain ip tw-t ep-a
      add chain ip tw-t ep-b
      add chain ip tw-t dispatch
      add chain ip tw-t checks
      add chain ip tw-t mark-it
      add chain ip tw-t nat-postrouting { type nat hook postrouting priority 100 ; }
      add rule ip tw-t nat-prerouting jump dispatch
      add rule ip tw-t dispatch ip daddr . meta l4proto . th dport vmap @service-ips
      add rule ip tw-t filter-forward ct state new jump checks
      add rule ip tw-t checks ip daddr @cluster-ips reject comment "Reject it"
      add rule ip tw-t mark-it mark set mark or 0x4000
      add rule ip tw-t services ip saddr != 10.244.0.0/16 jump mark-it
      add rule ip tw-t services ip saddr @affinity-a goto ep-a
      add rule ip tw-t services numgen random mod 2 vmap { 0 : goto ep-a , 1 : goto ep-b }
      add rule ip tw-t ep-a update @affinity-a { ip saddr }
      add rule ip tw-t ep-a meta l4proto tcp dnat to 10.244.1.5:8080
      add rule ip tw-t ep-b mark and 0x4000 == 0 return
      add rule ip tw-t ep-b drop
      add rule ip tw-t nat-postrouting masquerade fully-random
      """;

  private static NftBatch rules() {
    NftBatch b = new NftBatch();
    for (String c : List.of("ep-a", "ep-b", "dispatch", "checks", "mark-it")) {
      b.add("add chain " + c, NftMessages.addChain(IpFamily.IPV4, TABLE, c, Optional.empty()));
    }
    b.add(
        "add chain nat-postrouting",
        NftMessages.addChain(
            IpFamily.IPV4,
            TABLE,
            "nat-postrouting",
            Optional.of(new BaseChain("nat", Hook.POSTROUTING, 100))));
    rule(b, "nat-prerouting", List.of(NftExpr.Verdict.jump("dispatch")));
    rule(
        b,
        "dispatch",
        List.of(
            new NftExpr.Payload(NftExpr.Base.NETWORK, 16, 4, 1),
            new NftExpr.Meta(NftExpr.MetaKey.L4PROTO, 9),
            new NftExpr.Payload(NftExpr.Base.TRANSPORT, 2, 2, 10),
            new NftExpr.Lookup("service-ips", Optional.empty(), 1, Optional.of(0), false)));
    rule(
        b,
        "filter-forward",
        List.of(
            new NftExpr.CtState(1),
            new NftExpr.Bitwise(1, 1, host32(8), host32(0)),
            new NftExpr.Cmp(1, NftExpr.Op.NEQ, host32(0)),
            NftExpr.Verdict.jump("checks")));
    b.add(
        "reject rule",
        NftMessages.addRule(
            IpFamily.IPV4,
            TABLE,
            "checks",
            List.of(
                new NftExpr.Payload(NftExpr.Base.NETWORK, 16, 4, 1),
                new NftExpr.Lookup("cluster-ips", Optional.empty(), 1, Optional.empty(), false),
                new NftExpr.Reject(3)),
            Optional.of("Reject it")));
    rule(
        b,
        "mark-it",
        List.of(
            new NftExpr.Meta(NftExpr.MetaKey.MARK, 1),
            new NftExpr.Bitwise(1, 1, host32(0xffffbfff), host32(0x4000)),
            new NftExpr.MetaSet(NftExpr.MetaKey.MARK, 1)));
    rule(
        b,
        "services",
        List.of(
            new NftExpr.Payload(NftExpr.Base.NETWORK, 12, 2, 1),
            new NftExpr.Cmp(1, NftExpr.Op.NEQ, new byte[] {10, (byte) 244}),
            NftExpr.Verdict.jump("mark-it")));
    rule(
        b,
        "services",
        List.of(
            new NftExpr.Payload(NftExpr.Base.NETWORK, 12, 4, 1),
            new NftExpr.Lookup("affinity-a", Optional.empty(), 1, Optional.empty(), false),
            NftExpr.Verdict.goTo("ep-a")));
    int anon = b.newSetId();
    b.add("anonymous map", NftMessages.addAnonymousVerdictMap(IpFamily.IPV4, TABLE, anon, 2));
    b.add(
        "anonymous map's elements",
        NftMessages.elements(
            IpFamily.IPV4,
            TABLE,
            NftMessages.ANONYMOUS_MAP,
            Optional.of(anon),
            List.of(
                new Element(List.of(host32(0)), Optional.of(Verdict.goTo("ep-a"))),
                new Element(List.of(host32(1)), Optional.of(Verdict.goTo("ep-b")))),
            false));
    rule(
        b,
        "services",
        List.of(
            new NftExpr.RandomNumber(1, 2),
            new NftExpr.Lookup(
                NftMessages.ANONYMOUS_MAP, Optional.of(anon), 1, Optional.of(0), false)));
    rule(
        b,
        "ep-a",
        List.of(
            new NftExpr.Payload(NftExpr.Base.NETWORK, 12, 4, 1),
            new NftExpr.SetUpdate("affinity-a", 1)));
    rule(
        b,
        "ep-a",
        List.of(
            new NftExpr.Meta(NftExpr.MetaKey.L4PROTO, 1),
            new NftExpr.Cmp(1, NftExpr.Op.EQ, new byte[] {6}),
            new NftExpr.Immediate(1, ip(10, 244, 1, 5)),
            new NftExpr.Immediate(2, port(8080)),
            new NftExpr.Dnat(2, 1, 2)));
    rule(
        b,
        "ep-b",
        List.of(
            new NftExpr.Meta(NftExpr.MetaKey.MARK, 1),
            new NftExpr.Bitwise(1, 1, host32(0x4000), host32(0)),
            new NftExpr.Cmp(1, NftExpr.Op.EQ, host32(0)),
            NftExpr.Verdict.of(NftExpr.Verdict.RETURN)));
    rule(b, "ep-b", List.of(NftExpr.Verdict.of(NftExpr.Verdict.DROP)));
    rule(b, "nat-postrouting", List.of(new NftExpr.MasqueradeFullyRandom()));
    return b;
  }

  private static void rule(NftBatch b, String chain, List<NftExpr> expressions) {
    b.add(
        "rule in " + chain,
        NftMessages.addRule(IpFamily.IPV4, TABLE, chain, expressions, Optional.empty()));
  }

  private static byte[] host32(int v) {
    return ByteBuffer.allocate(4).order(ByteOrder.nativeOrder()).putInt(v).array();
  }

  private static byte[] ip(int a, int b, int c, int d) {
    return new byte[] {(byte) a, (byte) b, (byte) c, (byte) d};
  }

  private static byte[] port(int p) {
    return ByteBuffer.allocate(2).order(ByteOrder.BIG_ENDIAN).putShort((short) p).array();
  }

  private ScratchNetwork net;

  @BeforeAll
  void namespaces() {
    net = new ScratchNetwork("nftnl");
  }

  @AfterAll
  void cleanUp() {
    net.close();
  }

  @Test
  void theWritersMessagesAreTheOnesNftSendsForTheSameScript() {
    String ns = net.add("mnl");
    String dump = ScratchNetwork.exec(ns, SCRIPT, "nft", "--debug=mnl", "-f", "-");
    List<byte[]> nfts = batchMessages(dump);
    List<byte[]> ours = messages(batch().bytes());
    assertThat(ours).hasSameSizeAs(nfts);
    for (int i = 0; i < ours.size(); i++) {
      assertThat(HexFormat.of().formatHex(withoutFlags(ours.get(i))))
          .as("message %d", i)
          .isEqualTo(HexFormat.of().formatHex(withoutFlags(nfts.get(i))));
    }
  }

  @Test
  void aCommittedBatchLeavesTheTableNftLeaves() throws Exception {
    String byNft = net.add("byNft");
    String byNetlink = net.add("byNetlink");
    ScratchNetwork.exec(byNft, SCRIPT, "nft", "-f", "-");
    commit(byNetlink, batch());
    assertThat(listTable(byNetlink)).isEqualTo(listTable(byNft));
  }

  @Test
  void rulesOfEveryFormTheProxyWritesAreTheRulesNftWrites() throws Exception {
    String byNft = net.add("rulesByNft");
    String byNetlink = net.add("rulesByNetlink");
    ScratchNetwork.exec(byNft, SCRIPT + RULES, "nft", "-f", "-");
    commit(byNetlink, batch());
    commit(byNetlink, rules());
    String listing = listTable(byNft);
    assertThat(listing).contains("numgen", "dnat", "masquerade", "update", "reject");
    assertThat(listTable(byNetlink)).isEqualTo(listing);
  }

  /**
   * Services of every kind the proxy renders, with their endpoints: a ClusterIP with session
   * affinity, a NodePort with Local policy, a LoadBalancer with source ranges and an external IP, a
   * UDP port, and a Service without endpoints.
   */
  private static final String SERVICES =
      """
      apiVersion: v1
      kind: Service
      metadata: {name: sticky, namespace: default}
      spec:
        clusterIP: 10.96.0.20
        ports: [{name: http, port: 80, targetPort: 8080, protocol: TCP}]
        sessionAffinity: ClientIP
      ---
      apiVersion: discovery.k8s.io/v1
      kind: EndpointSlice
      metadata: {name: sticky-a, namespace: default, labels: {kubernetes.io/service-name: sticky}}
      addressType: IPv4
      ports: [{name: http, port: 8080, protocol: TCP}]
      endpoints:
      - addresses: [10.244.0.5]
        conditions: {ready: true}
        nodeName: node-1
      - addresses: [10.244.1.5]
        conditions: {ready: true}
        nodeName: node-2
      ---
      apiVersion: v1
      kind: Service
      metadata: {name: np, namespace: default}
      spec:
        type: NodePort
        clusterIP: 10.96.0.21
        externalTrafficPolicy: Local
        ports: [{name: http, port: 80, targetPort: 8080, nodePort: 30081, protocol: TCP}]
      ---
      apiVersion: discovery.k8s.io/v1
      kind: EndpointSlice
      metadata: {name: np-a, namespace: default, labels: {kubernetes.io/service-name: np}}
      addressType: IPv4
      ports: [{name: http, port: 8080, protocol: TCP}]
      endpoints:
      - addresses: [10.244.0.6]
        conditions: {ready: true}
        nodeName: node-1
      - addresses: [10.244.1.6]
        conditions: {ready: true}
        nodeName: node-2
      ---
      apiVersion: v1
      kind: Service
      metadata: {name: lb, namespace: default}
      spec:
        type: LoadBalancer
        clusterIP: 10.96.0.22
        externalIPs: [198.51.100.7]
        loadBalancerSourceRanges: [203.0.113.0/24]
        ports:
        - {name: http, port: 80, targetPort: 8080, nodePort: 30082, protocol: TCP}
        - {name: dns, port: 53, targetPort: 5353, nodePort: 30083, protocol: UDP}
      status:
        loadBalancer: {ingress: [{ip: 192.0.2.10}]}
      ---
      apiVersion: discovery.k8s.io/v1
      kind: EndpointSlice
      metadata: {name: lb-a, namespace: default, labels: {kubernetes.io/service-name: lb}}
      addressType: IPv4
      ports: [{name: http, port: 8080, protocol: TCP}, {name: dns, port: 5353, protocol: UDP}]
      endpoints:
      - addresses: [10.244.2.7]
        conditions: {ready: true}
        nodeName: node-3
      ---
      apiVersion: v1
      kind: Service
      metadata: {name: nobody, namespace: default}
      spec:
        clusterIP: 10.96.0.23
        ports: [{name: http, port: 80, protocol: TCP}]
      """;

  @Test
  void theProxysRenderedRulesetsWrittenByNetlinkAreWhatNftMakesOfThem() throws Exception {
    Path services = Files.createTempFile("services", ".yaml");
    Files.writeString(services, SERVICES);
    List<Path> inputs = List.of(Tweed.HOME.resolve("examples/services.yaml"), services);
    for (int n = 0; n < inputs.size(); n++) {
      Path yaml = inputs.get(n);
      String script =
          Tweed.newLab("render")
              .ok(
                  "proxy",
                  "render",
                  "--mode",
                  "nftables",
                  "-f",
                  yaml.toString(),
                  "--node-name",
                  "node-1",
                  "--cluster-cidr",
                  "10.244.0.0/16",
                  "--node-ip",
                  "172.31.0.11");
      // The same ruleset rendered here: the script tweed prints is its commands printed, and the
      // netlink writer encodes the commands themselves.
      NftablesRuleset rendered = render(yaml);
      assertThat(rendered.render()).isEqualTo(script);
      String name = "render" + n;
      String byNft = net.add(name + "Nft");
      String byNetlink = net.add(name + "Nl");
      ScratchNetwork.exec(byNft, script, "nft", "-f", "-");
      commit(byNetlink, NftEncoder.encode(IpFamily.IPV4, rendered.commands()));
      String listing = listProxyTable(byNft);
      assertThat(listProxyTable(byNetlink)).as(yaml.toString()).isEqualTo(listing);
      if (yaml.equals(services)) {
        assertThat(listing).contains("\"numgen\"", "\"dnat\"", "\"update\"", "reject-chain");
      }
    }
  }

  private static NftablesRuleset render(Path yaml) throws Exception {
    return new NftablesServiceRenderer(
            new ProxyNode("node-1", "10.244.0.0/16", List.of("172.31.0.11")), "10.96.0.0/16")
        .render(ServicePortResolver.resolveResources(LabResources.read(yaml)));
  }

  /**
   * The policy table of the golden test's cluster, with the forms other policies add to it: CIDRs
   * with exceptions, port ranges, a protocol alone, a single-address exception.
   */
  private static List<NftCommand> policyCommands() throws Exception {
    String chain = "policy-ingress-x/web-ingress";
    NftStatement accept = new SetMark(MarkSyntax.META, MarkOperation.OR, "0x00010000");
    NftStatement ret = new NftStatement.Verdict(NftVerdict.RETURN);
    List<NftCommand> out =
        new ArrayList<>(new NftablesPolicyRenderer().render(PolicyFixtures.intent()).commands());
    out.add(
        AddRule.of(
            "tweed-policy",
            chain,
            AddressIs.of(Address.SADDR, "10.16.0.0/12"),
            new AddressIs(
                Address.SADDR,
                true,
                List.of("10.18.3.0/24", "10.17.0.0/16", "10.17.4.0/24", "10.20.0.1/32"),
                true),
            new DestinationPort("tcp", 80, 80),
            accept,
            ret));
    out.add(
        AddRule.of(
            "tweed-policy",
            chain,
            new AddressIs(
                Address.SADDR, true, List.of("0.0.0.0/8", "10.0.0.0/8", "255.255.255.0/24"), true),
            new DestinationPort("sctp", 9000, 9100),
            accept,
            ret));
    out.add(
        AddRule.of(
            "tweed-policy",
            chain,
            new AddressIs(Address.DADDR, true, List.of("10.17.0.0/16", "10.18.3.0/24"), true),
            new L4Protocol("udp"),
            accept,
            ret));
    out.add(
        AddRule.of(
            "tweed-policy",
            chain,
            AddressIs.of(Address.SADDR, "10.1.2.3"),
            new AddressIs(Address.SADDR, true, List.of("10.1.2.3/32"), true),
            new DestinationPort("udp", 53, 53),
            accept,
            ret));
    return out;
  }

  @Test
  void thePolicysMessagesAreTheOnesNftSendsAndLeaveTheTableNftLeaves() throws Exception {
    List<NftCommand> commands = policyCommands();
    String script = NftablesRuleset.script(IpFamily.IPV4, commands);
    assertThat(script)
        .contains(
            "ip saddr != { 0.0.0.0/8, 10.0.0.0/8, 255.255.255.0/24 } sctp dport 9000-9100 meta mark"
                + " set meta mark | 0x00010000 return");
    String ns = net.add("policyMnl");
    String dump = ScratchNetwork.exec(ns, script, "nft", "--debug=mnl", "-f", "-");
    List<byte[]> nfts = batchMessages(dump);
    List<byte[]> ours = messages(NftEncoder.encode(IpFamily.IPV4, commands).bytes());
    assertThat(ours).hasSameSizeAs(nfts);
    for (int i = 0; i < ours.size(); i++) {
      assertThat(HexFormat.of().formatHex(withoutFlags(ours.get(i))))
          .as("message %d", i)
          .isEqualTo(HexFormat.of().formatHex(withoutFlags(nfts.get(i))));
    }
    String byNft = net.add("policyNft");
    String byNetlink = net.add("policyNl");
    ScratchNetwork.exec(byNft, script, "nft", "-f", "-");
    commit(byNetlink, NftEncoder.encode(IpFamily.IPV4, commands));
    String listing = listPolicyTable(byNft);
    assertThat(listPolicyTable(byNetlink)).isEqualTo(listing);
    assertThat(listing).contains("\"log\"", "\"counter\"", "\"prefix\"", "\"range\"");
  }

  /**
   * The ip6 tables: the proxy's for IPv6 Services of every kind, and the policy's with the forms
   * policies add (IPv6 CIDRs with exceptions, prefixes not on a byte boundary, neighbour
   * discovery): the writer's messages are the ones nft sends for the same script, byte for byte,
   * and the tables they leave are the ones nft leaves.
   */
  @Test
  void ip6TablesAreWhatNftMakesOfTheSameScript() throws Exception {
    NftablesRuleset proxy = NftablesServiceRendererTest.ipv6Ruleset();
    // As for IPv4, the proxy's table is compared as the kernel holds it: nft describes its
    // anonymous verdict maps (numgen) in user data of its own, which the kernel only stores.
    String proxyListing =
        assertSameAsNft("proxy6", IpFamily.IPV6, proxy.commands(), "tweed-proxy", false);
    assertThat(proxyListing).contains("\"numgen\"", "\"dnat\"", "\"update\"", "\"ip6\"");
    List<NftCommand> policy = new ArrayList<>();
    PolicyIntent dual = PolicyFixtures.dualStackIntent();
    policy.addAll(new NftablesPolicyRenderer().render(dual, IpFamily.IPV6).commands());
    String chain = "policy-ingress-x/web-ingress";
    NftStatement accept = new SetMark(MarkSyntax.META, MarkOperation.OR, "0x00010000");
    NftStatement ret = new NftStatement.Verdict(NftVerdict.RETURN);
    policy.add(
        AddRule.of(
            "tweed-policy",
            chain,
            AddressIs.of(Address.SADDR, "fd00:10::/30"),
            new AddressIs(
                Address.SADDR,
                true,
                List.of("fd00:10:244::/48", "fd00:10:1::/122", "fd00:10:2::1/128"),
                true),
            new DestinationPort("tcp", 80, 80),
            accept,
            ret));
    policy.add(
        AddRule.of(
            "tweed-policy",
            chain,
            new AddressIs(Address.SADDR, true, List.of("::/8", "ff00::/8"), true),
            new DestinationPort("sctp", 9000, 9100),
            accept,
            ret));
    policy.add(
        AddRule.of(
            "tweed-policy",
            chain,
            AddressIs.of(Address.DADDR, "2001:db8::5"),
            new L4Protocol("udp"),
            accept,
            ret));
    String listing = assertSameAsNft("policy6", IpFamily.IPV6, policy, "tweed-policy", true);
    assertThat(listing).contains("\"icmpv6\"", "\"nd-router-advert\"", "\"ip6\"");
  }

  /**
   * {@code commands}' batch against nft's for their script: (with {@code messages}) the same
   * messages, and the same table left behind; returns nft's listing of the table.
   */
  private String assertSameAsNft(
      String name, IpFamily family, List<NftCommand> commands, String table, boolean messages)
      throws Exception {
    String script = NftablesRuleset.script(family, commands);
    if (messages) {
      String dump =
          ScratchNetwork.exec(net.add(name + "Mnl"), script, "nft", "--debug=mnl", "-f", "-");
      List<byte[]> nfts = batchMessages(dump);
      List<byte[]> ours = messages(NftEncoder.encode(family, commands).bytes());
      assertThat(ours).as(name).hasSameSizeAs(nfts);
      for (int i = 0; i < ours.size(); i++) {
        assertThat(HexFormat.of().formatHex(withoutFlags(ours.get(i))))
            .as("%s message %d", name, i)
            .isEqualTo(HexFormat.of().formatHex(withoutFlags(nfts.get(i))));
      }
    }
    String byNft = net.add(name + "Nft");
    String byNetlink = net.add(name + "Nl");
    ScratchNetwork.exec(byNft, script, "nft", "-f", "-");
    commit(byNetlink, NftEncoder.encode(family, commands));
    String word = NftCommand.family(family);
    String listing = ScratchNetwork.exec(byNft, "", "nft", "-j", "list", "table", word, table);
    assertThat(ScratchNetwork.exec(byNetlink, "", "nft", "-j", "list", "table", word, table))
        .as(name)
        .isEqualTo(listing);
    return listing;
  }

  /**
   * A new table is built in stages (each short, so the kernel's walk per anonymous set stays
   * short), and its hooks come last. When a late stage is refused, the table is deleted again:
   * nothing is left.
   */
  @Test
  void aNewTableBuiltInStagesIsTheTableNftBuildsAndARefusedStageLeavesNone() throws Exception {
    var renderer =
        new NftablesServiceRenderer(
            new ProxyNode("bench-node", "10.244.0.0/16", List.of()), "10.96.0.0/16");
    var rendered = renderer.render(ServiceSyncBenchmark.services(300, 10, 0));
    List<NftBatch> stages = NftStagedBuild.stages(IpFamily.IPV4, rendered.replaceCommands());
    assertThat(stages).hasSizeGreaterThan(2);
    String byNft = net.add("stagedNft");
    String staged = net.add("staged");
    NftablesWriter.inNamespace(byNft, true).sync(rendered, true);
    NftablesWriter.inNamespace(staged, false).sync(rendered, true);
    assertThat(NftablesLayoutIT.normalised(staged)).isEqualTo(NftablesLayoutIT.normalised(byNft));

    String refused = net.add("stagedRefused");
    var blocks = new LinkedHashMap<>(rendered.services());
    blocks.put(
        "zz-late",
        List.of(
            AddRule.of(
                "tweed-proxy", "no-such-chain-zz", new NftStatement.Verdict(NftVerdict.ACCEPT))));
    var broken = new NftablesRuleset(rendered.family(), rendered.table(), rendered.base(), blocks);
    assertThat(NftStagedBuild.stages(IpFamily.IPV4, broken.replaceCommands()))
        .hasSizeGreaterThan(2);
    assertThatThrownBy(() -> NftablesWriter.inNamespace(refused, false).sync(broken, true))
        .isInstanceOf(NftBatch.RefusedException.class)
        .hasMessageContaining("no-such-chain-zz");
    assertThat(ScratchNetwork.exec(refused, "", "nft", "list", "tables")).isBlank();
  }

  private static String listPolicyTable(String ns) {
    return ScratchNetwork.exec(ns, "", "nft", "-j", "list", "table", "ip", "tweed-policy");
  }

  private static String listProxyTable(String ns) {
    return ScratchNetwork.exec(ns, "", "nft", "-j", "list", "table", "ip", "tweed-proxy");
  }

  @Test
  void aRefusedBatchChangesNothingAndNamesWhatWasRefused() throws Exception {
    String ns = net.add("refused");
    commit(ns, batch());
    String before = listTable(ns);
    NftBatch bad = new NftBatch();
    bad.add(
        "add chain extra", NftMessages.addChain(IpFamily.IPV4, TABLE, "extra", Optional.empty()));
    bad.add(
        "add element to set nowhere",
        NftMessages.elements(
            IpFamily.IPV4,
            TABLE,
            "nowhere",
            Optional.empty(),
            List.of(new Element(List.of(ip(10, 96, 0, 11)), Optional.empty())),
            false));
    // A change after the refused one: the kernel still answers the batch's last message.
    bad.add(
        "add chain extra2", NftMessages.addChain(IpFamily.IPV4, TABLE, "extra2", Optional.empty()));
    assertThatThrownBy(() -> commit(ns, bad))
        .isInstanceOf(NftBatch.RefusedException.class)
        .hasMessageContaining("add element to set nowhere: No such file or directory")
        .hasMessageNotContaining("add chain extra:");
    assertThat(listTable(ns)).isEqualTo(before);
  }

  private static void commit(String ns, NftBatch b) throws Exception {
    NetworkNamespace.call(
        NetworkNamespace.pathOf(ns),
        () -> {
          try (NfTablesSocket s = NfTablesSocket.open()) {
            b.commit(s);
          }
          return null;
        });
  }

  private static String listTable(String ns) {
    return ScratchNetwork.exec(ns, "", "nft", "-j", "list", "table", "ip", TABLE);
  }

  private static List<byte[]> messages(byte[] batch) {
    List<byte[]> out = new ArrayList<>();
    ByteBuffer b = ByteBuffer.wrap(batch).order(ByteOrder.nativeOrder());
    int off = 0;
    while (off < batch.length) {
      int len = b.getInt(off);
      byte[] m = new byte[len];
      System.arraycopy(batch, off, m, 0, len);
      out.add(m);
      off += (len + 3) & ~3;
    }
    return out;
  }

  /** A message with its flags zeroed: nft's dump prints only some of them. */
  private static byte[] withoutFlags(byte[] m) {
    byte[] c = m.clone();
    c[6] = 0;
    c[7] = 0;
    return c;
  }

  private static final Pattern NUMBER = Pattern.compile("^\\|\\s+(\\d+)\\s+\\|");
  private static final Pattern TYPE = Pattern.compile("^\\|\\s+(\\d+) \\| (\\S+) \\|");
  private static final Pattern ATTR =
      Pattern.compile(
          "^\\|(?:\\e\\[[0-9;]*m)?(\\d+)(?:\\e\\[0m)?\\|(?:\\e\\[[0-9;]*m)?([N-])([B-])(?:\\e\\[0m)?\\|(?:\\e\\[[0-9;]*m)?(\\d+)(?:\\e\\[0m)?\\|");
  private static final Pattern BYTES =
      Pattern.compile("^\\| ([0-9a-f]{2}) ([0-9a-f]{2}) ([0-9a-f]{2}) ([0-9a-f]{2})  \\|");

  /**
   * The messages of the batch in nft's {@code --debug=mnl} dump, from batch begin to batch end
   * (before it, nft reads the kernel's state), rebuilt as bytes (header, extra header, attributes),
   * flags left zero.
   */
  static List<byte[]> batchMessages(String dump) {
    List<byte[]> out = new ArrayList<>();
    ByteArrayOutputStream cur = null;
    boolean inBatch = false;
    for (String line : dump.split("\n")) {
      Matcher n = NUMBER.matcher(line);
      Matcher t = TYPE.matcher(line);
      Matcher a = ATTR.matcher(line);
      Matcher d = BYTES.matcher(line);
      if (line.contains("| message length |") && n.find()) {
        if (cur != null && inBatch) {
          out.add(cur.toByteArray());
        }
        cur = new ByteArrayOutputStream();
        cur.writeBytes(le32(Integer.parseInt(n.group(1))));
      } else if (cur != null && line.contains("|  type | flags  |") && t.find()) {
        int type = Integer.parseInt(t.group(1));
        if (type == 16) {
          inBatch = true;
        }
        cur.writeBytes(
            ByteBuffer.allocate(4)
                .order(ByteOrder.nativeOrder())
                .putShort((short) type)
                .putShort((short) 0)
                .array());
      } else if (cur != null
          && (line.contains("| sequence number|") || line.contains("|     port ID    |"))
          && n.find()) {
        cur.writeBytes(le32(Integer.parseInt(n.group(1))));
      } else if (cur != null && a.find()) {
        int len = Integer.parseInt(a.group(1));
        int type =
            Integer.parseInt(a.group(4))
                | (a.group(2).equals("N") ? 0x8000 : 0)
                | (a.group(3).equals("B") ? 0x4000 : 0);
        cur.writeBytes(
            ByteBuffer.allocate(4)
                .order(ByteOrder.nativeOrder())
                .putShort((short) len)
                .putShort((short) type)
                .array());
      } else if (cur != null && d.find()) {
        for (int i = 1; i <= 4; i++) {
          cur.write(Integer.parseInt(d.group(i), 16));
        }
      }
    }
    if (cur != null && inBatch) {
      out.add(cur.toByteArray());
    }
    return out;
  }

  private static byte[] le32(int v) {
    return ByteBuffer.allocate(4).order(ByteOrder.nativeOrder()).putInt(v).array();
  }
}
