package dev.tweed.proxy;

import dev.tweed.model.Cidr;
import dev.tweed.model.IpAddress;
import dev.tweed.model.IpFamily;
import dev.tweed.rules.BlockChange;
import dev.tweed.rules.JumpRule;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Renders service ports into the filter and nat rules kube-proxy's iptables mode writes, rule for
 * rule and in its order: KUBE-SERVICES and KUBE-NODEPORTS dispatch, KUBE-EXT- for external
 * destinations, KUBE-FW- for load-balancer source ranges, KUBE-SVC-/KUBE-SVL- for Cluster/Local
 * policy with statistic (and recent, for ClientIP affinity) matches, KUBE-SEP- per endpoint, and
 * the filter rules that REJECT or DROP what has no endpoints.
 *
 * <p>An instance keeps the last render per service port and is meant for one thread (an agent's
 * sync loop). It assumes what kube-proxy detects on such a host: iptables with --random-fully,
 * localhost NodePorts on (route_localnet), no nfacct in the kernel, nf_conntrack_tcp_be_liberal
 * off.
 */
public final class IptablesServiceRenderer {
  static final String MARK = "0x4000";
  private final ProxyNode node;

  /** What one service port renders to: its rules in the shared chains, and its own chains. */
  private record RenderedPort(
      List<String> filterRules, List<String> dispatchRules, IptablesRuleset.ChainBlock block) {}

  private final RenderedPorts<RenderedPort> ports = new RenderedPorts<>(this::renderPort);

  /** The filter table and the nat dispatch chains as last assembled from every port. */
  private String filterTable;

  private IptablesRuleset.ChainBlock natDispatch;

  public IptablesServiceRenderer(ProxyNode node) {
    this.node = node;
  }

  /** Lines of one table: chain declarations and rules, kept apart as iptables-restore wants. */
  private static class Table {
    final List<String> chains = new ArrayList<>();
    final List<String> rules = new ArrayList<>();

    void chain(String name) {
      chains.add(":" + name + " - [0:0]");
    }

    void rule(String... parts) {
      rules.add(String.join(" ", parts));
    }
  }

  /**
   * The nat rules of one service port: those in the shared dispatch chains go to {@code top}, its
   * own chains (KUBE-SVC/SVL/EXT/FW/SEP) to a block that an incremental sync can skip.
   */
  private static final class ServiceNat extends Table {
    private final Table top;

    ServiceNat(Table top) {
      this.top = top;
    }

    @Override
    void rule(String... parts) {
      String line = String.join(" ", parts);
      if (line.startsWith("-A KUBE-SERVICES ") || line.startsWith("-A KUBE-NODEPORTS ")) {
        top.rules.add(line);
      } else {
        rules.add(line);
      }
    }
  }

  /** A comment argument as kube-proxy writes it: quoted when it has spaces. */
  static String comment(String text) {
    return text.contains(" ") ? "\"" + text + "\"" : text;
  }

  /** The rules of exactly these ports (a whole render: ports rendered before and absent go). */
  public IptablesRuleset render(List<ServicePort> all) {
    return update(ports.replacing(all)).ruleset();
  }

  /** The rules after these Services changed, and the service blocks that changed with them. */
  public RulesetUpdate<IptablesRuleset, IptablesRuleset.ChainBlock> update(
      Map<String, List<ServicePort>> changes) {
    List<BlockChange<RenderedPort>> changed = ports.apply(changes);
    // The shared chains hold a rule or two of every port: assembled again only when one of
    // those changed (a Service added or removed, endpoints gone or back), not on every change.
    boolean shared =
        filterTable == null
            || changed.stream()
                .anyMatch(
                    c ->
                        !c.before()
                                .map(RenderedPort::filterRules)
                                .equals(c.after().map(RenderedPort::filterRules))
                            || !c.before()
                                .map(RenderedPort::dispatchRules)
                                .equals(c.after().map(RenderedPort::dispatchRules)));
    if (shared) {
      assembleShared();
    }
    List<BlockChange<IptablesRuleset.ChainBlock>> blockChanges = new ArrayList<>(changed.size());
    for (BlockChange<RenderedPort> c : changed) {
      var before = c.before().map(RenderedPort::block);
      var after = c.after().map(RenderedPort::block);
      if (!before.equals(after)) {
        blockChanges.add(new BlockChange<>(c.block(), before, after));
      }
    }
    return new RulesetUpdate<>(
        new IptablesRuleset(filterTable, natDispatch, ports.blocks(RenderedPort::block), JUMPS),
        blockChanges);
  }

  private void assembleShared() {
    Table filter = new Table();
    Table nat = new Table();
    for (String c :
        List.of(
            "KUBE-SERVICES",
            "KUBE-EXTERNAL-SERVICES",
            "KUBE-FORWARD",
            "KUBE-NODEPORTS",
            "KUBE-PROXY-FIREWALL")) {
      filter.chain(c);
    }
    for (String c :
        List.of("KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ")) {
      nat.chain(c);
    }
    nat.rule("-A KUBE-POSTROUTING -m mark ! --mark " + MARK + "/" + MARK + " -j RETURN");
    nat.rule("-A KUBE-POSTROUTING -j MARK --xor-mark " + MARK);
    nat.rule(
        "-A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE --random-fully");
    nat.rule("-A KUBE-MARK-MASQ -j MARK --or-mark " + MARK);
    filter.chain("KUBE-FIREWALL");
    if (node.family() == IpFamily.IPV4) {
      // Localhost NodePorts exist in IPv4 only (route_localnet has no IPv6 counterpart), and so
      // does this guard, as in kube-proxy.
      filter.rule(
          "-A KUBE-FIREWALL -m comment --comment \"block incoming localnet connections\" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP");
    }
    for (RenderedPort r : ports.outputs()) {
      filter.rules.addAll(r.filterRules());
      nat.rules.addAll(r.dispatchRules());
    }
    // In IPv6, kube-proxy keeps ::1 out of NodePorts: they never work on localhost there (no
    // route_localnet), and a packet trying logs a kernel warning.
    nat.rule(
        "-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports; NOTE: this must be the last rule in this chain\" -m addrtype --dst-type LOCAL "
            + (node.family() == IpFamily.IPV6 ? "! -d ::1/128 " : "")
            + "-j KUBE-NODEPORTS");
    filter.rule("-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP");
    filter.rule(
        "-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding rules\" -m mark --mark "
            + MARK
            + "/"
            + MARK
            + " -j ACCEPT");
    filter.rule(
        "-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding conntrack rule\" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT");

    StringBuilder sb = new StringBuilder();
    sb.append("*filter\n");
    filter.chains.forEach(l -> sb.append(l).append('\n'));
    filter.rules.forEach(l -> sb.append(l).append('\n'));
    sb.append("COMMIT\n");
    filterTable = sb.toString();
    natDispatch = new IptablesRuleset.ChainBlock(nat.chains, nat.rules);
  }

  private static final List<JumpRule> JUMPS = jumpRules();

  /** kube-proxy's jump rules, in the order they end up after each was inserted at the top. */
  static List<JumpRule> jumpRules() {
    List<JumpRule> inOrderOfInsertion =
        List.of(
            jump(
                "filter",
                "INPUT",
                "KUBE-EXTERNAL-SERVICES",
                "kubernetes externally-visible service portals",
                true),
            jump(
                "filter",
                "FORWARD",
                "KUBE-EXTERNAL-SERVICES",
                "kubernetes externally-visible service portals",
                true),
            jump(
                "filter",
                "INPUT",
                "KUBE-NODEPORTS",
                "kubernetes health check service ports",
                false),
            jump("filter", "FORWARD", "KUBE-SERVICES", "kubernetes service portals", true),
            jump("filter", "OUTPUT", "KUBE-SERVICES", "kubernetes service portals", true),
            jump("filter", "FORWARD", "KUBE-FORWARD", "kubernetes forwarding rules", false),
            jump(
                "filter",
                "INPUT",
                "KUBE-PROXY-FIREWALL",
                "kubernetes load balancer firewall",
                true),
            jump(
                "filter",
                "OUTPUT",
                "KUBE-PROXY-FIREWALL",
                "kubernetes load balancer firewall",
                true),
            jump(
                "filter",
                "FORWARD",
                "KUBE-PROXY-FIREWALL",
                "kubernetes load balancer firewall",
                true),
            jump("nat", "OUTPUT", "KUBE-SERVICES", "kubernetes service portals", false),
            jump("nat", "PREROUTING", "KUBE-SERVICES", "kubernetes service portals", false),
            jump("nat", "POSTROUTING", "KUBE-POSTROUTING", "kubernetes postrouting rules", false),
            new JumpRule("filter", "INPUT", List.of("-j", "KUBE-FIREWALL")),
            new JumpRule("filter", "OUTPUT", List.of("-j", "KUBE-FIREWALL")));
    return inOrderOfInsertion;
  }

  private static JumpRule jump(
      String table, String chain, String target, String comment, boolean newOnly) {
    List<String> args = new ArrayList<>();
    if (newOnly) {
      args.addAll(List.of("-m", "conntrack", "--ctstate", "NEW"));
    }
    args.addAll(List.of("-m", "comment", "--comment", "\"" + comment + "\"", "-j", target));
    return new JumpRule(table, chain, args);
  }

  private RenderedPort renderPort(ServicePort p) {
    Table filter = new Table();
    Table dispatch = new Table();
    ServiceNat nat = new ServiceNat(dispatch);
    String proto = p.protocolLower();
    String name = p.portNameString();
    String dport = String.valueOf(p.port());
    String matchProto = "-m " + proto + " -p " + proto;

    PortPolicy policy = PortPolicy.of(p, node.nodeName());
    List<ServicePort.Endpoint> cluster = policy.cluster();
    List<ServicePort.Endpoint> localUsed = policy.local();
    boolean hasEndpoints = policy.hasEndpoints();

    String clusterChain = ChainNames.serviceCluster(p);
    String localChain = ChainNames.serviceLocal(p);
    String extChain = ChainNames.external(p);
    String fwChain = ChainNames.firewall(p);

    String internalChain = p.internalPolicyLocal() ? localChain : clusterChain;
    boolean hasInternal = policy.hasInternal();
    String externalPolicyChain = p.externalPolicyLocal() ? localChain : clusterChain;
    boolean hasExternal = policy.hasExternal();
    boolean usesExt = policy.usesExternalChain();
    boolean usesFw = policy.usesFirewall();
    String lbChain = usesFw ? fwChain : extChain;

    String internalFilterTarget;
    String internalFilterComment;
    String externalFilterTarget = "";
    String externalFilterComment = "";
    if (!hasEndpoints) {
      internalFilterTarget = "REJECT";
      internalFilterComment = comment(name + " has no endpoints");
      externalFilterTarget = "REJECT";
      externalFilterComment = internalFilterComment;
    } else {
      internalFilterTarget = "DROP";
      internalFilterComment = comment(name + " has no local endpoints");
      if (!hasExternal) {
        externalFilterTarget = "DROP";
        externalFilterComment = comment(name + " has no local endpoints");
      }
    }

    String clusterIpMatch =
        "-m comment --comment "
            + comment(name + " cluster IP")
            + " "
            + matchProto
            + " -d "
            + p.clusterIp()
            + " --dport "
            + dport;
    if (hasInternal) {
      nat.rule("-A KUBE-SERVICES", clusterIpMatch, "-j", internalChain);
    } else {
      filter.rule(
          toDestination(
              "KUBE-SERVICES",
              internalFilterComment,
              matchProto,
              p.clusterIp(),
              dport,
              internalFilterTarget));
    }
    for (String ip : p.externalIps()) {
      if (hasEndpoints) {
        nat.rule(
            toDestination(
                "KUBE-SERVICES", comment(name + " external IP"), matchProto, ip, dport, extChain));
      }
      if (!hasExternal) {
        filter.rule(
            toDestination(
                "KUBE-EXTERNAL-SERVICES",
                externalFilterComment,
                matchProto,
                ip,
                dport,
                externalFilterTarget));
      }
    }
    for (String ip : p.loadBalancerIps()) {
      if (hasEndpoints) {
        nat.rule(
            toDestination(
                "KUBE-SERVICES",
                comment(name + " loadbalancer IP"),
                matchProto,
                ip,
                dport,
                lbChain));
      }
      if (usesFw) {
        filter.rule(
            toDestination(
                "KUBE-PROXY-FIREWALL",
                comment(name + " traffic not accepted by " + fwChain),
                matchProto,
                ip,
                dport,
                "DROP"));
      }
    }
    if (!hasExternal) {
      for (String ip : p.loadBalancerIps()) {
        filter.rule(
            toDestination(
                "KUBE-EXTERNAL-SERVICES",
                externalFilterComment,
                matchProto,
                ip,
                dport,
                externalFilterTarget));
      }
    }
    if (p.nodePort() != 0) {
      if (hasEndpoints) {
        nat.rule(
            "-A KUBE-NODEPORTS -m comment --comment",
            comment(name),
            matchProto,
            "--dport",
            String.valueOf(p.nodePort()),
            "-j",
            extChain);
      }
      if (!hasExternal) {
        filter.rule(
            "-A KUBE-EXTERNAL-SERVICES -m comment --comment",
            externalFilterComment,
            "-m addrtype --dst-type LOCAL",
            matchProto,
            "--dport",
            String.valueOf(p.nodePort()),
            "-j",
            externalFilterTarget);
      }
    }
    if (p.healthCheckNodePort() != 0) {
      filter.rule(
          "-A KUBE-NODEPORTS -m comment --comment",
          comment(name + " health check node port"),
          "-m tcp -p tcp --dport",
          String.valueOf(p.healthCheckNodePort()),
          "-j ACCEPT");
    }

    if (hasInternal) {
      nat.rule(
          "-A", internalChain, clusterIpMatch, "! -s", node.clusterCidr(), "-j KUBE-MARK-MASQ");
    }
    if (usesExt) {
      nat.chain(extChain);
      if (!p.externalPolicyLocal()) {
        nat.rule(
            "-A",
            extChain,
            "-m comment --comment",
            comment("masquerade traffic for " + name + " external destinations"),
            "-j KUBE-MARK-MASQ");
      } else {
        nat.rule(
            "-A",
            extChain,
            "-m comment --comment",
            comment("pod traffic for " + name + " external destinations"),
            "-s",
            node.clusterCidr(),
            "-j",
            clusterChain);
        nat.rule(
            "-A",
            extChain,
            "-m comment --comment",
            comment("masquerade LOCAL traffic for " + name + " external destinations"),
            "-m addrtype --src-type LOCAL -j KUBE-MARK-MASQ");
        nat.rule(
            "-A",
            extChain,
            "-m comment --comment",
            comment("route LOCAL traffic for " + name + " external destinations"),
            "-m addrtype --src-type LOCAL -j",
            clusterChain);
      }
      if (hasExternal) {
        nat.rule("-A", extChain, "-j", externalPolicyChain);
      }
    }
    if (usesFw) {
      nat.chain(fwChain);
      String head = "-A " + fwChain + " -m comment --comment " + comment(name + " loadbalancer IP");
      boolean allowFromNode = false;
      for (String range : p.loadBalancerSourceRanges()) {
        nat.rule(head, "-s", range, "-j", extChain);
        Cidr cidr = Cidr.parse(range);
        allowFromNode |= node.nodeIps().stream().anyMatch(ip -> cidr.contains(IpAddress.parse(ip)));
      }
      if (allowFromNode) {
        for (String ip : p.loadBalancerIps()) {
          nat.rule(head, "-s", ip, "-j", extChain);
        }
      }
      nat.rule(
          "-A",
          fwChain,
          "-m comment --comment",
          comment("other traffic to " + name + " will be dropped by KUBE-PROXY-FIREWALL"));
    }
    if (!cluster.isEmpty()) {
      nat.chain(clusterChain);
      serviceToEndpoints(nat, p, clusterChain, cluster);
    }
    if (!localUsed.isEmpty()) {
      nat.chain(localChain);
      serviceToEndpoints(nat, p, localChain, localUsed);
    }
    for (ServicePort.Endpoint ep : policy.reachable()) {
      String sep = ChainNames.endpoint(p, ep);
      nat.chain(sep);
      nat.rule(
          "-A", sep, "-m comment --comment", comment(name), "-s", ep.ip(), "-j KUBE-MARK-MASQ");
      String affinity =
          p.affinityTimeoutSeconds().isPresent() ? " -m recent --name " + sep + " --set" : "";
      nat.rule(
          "-A",
          sep,
          "-m comment --comment",
          comment(name) + affinity,
          matchProto,
          "-j DNAT --to-destination",
          ep.toString());
    }
    return new RenderedPort(
        List.copyOf(filter.rules),
        List.copyOf(dispatch.rules),
        new IptablesRuleset.ChainBlock(nat.chains, nat.rules));
  }

  /** kube-proxy's rule for traffic to one address and port of a service: comment, match, jump. */
  private static String toDestination(
      String chain, String commentArg, String matchProto, String ip, String dport, String target) {
    return "-A "
        + chain
        + " -m comment --comment "
        + commentArg
        + " "
        + matchProto
        + " -d "
        + ip
        + " --dport "
        + dport
        + " -j "
        + target;
  }

  private static void serviceToEndpoints(
      Table nat, ServicePort p, String chain, List<ServicePort.Endpoint> eps) {
    String name = p.portNameString();
    if (p.affinityTimeoutSeconds().isPresent()) {
      for (ServicePort.Endpoint ep : eps) {
        String sep = ChainNames.endpoint(p, ep);
        nat.rule(
            "-A",
            chain,
            "-m comment --comment",
            comment(name + " -> " + ep),
            "-m recent --name",
            sep,
            "--rcheck --seconds",
            String.valueOf(p.affinityTimeoutSeconds().get()),
            "--reap -j",
            sep);
      }
    }
    for (int i = 0; i < eps.size(); i++) {
      ServicePort.Endpoint ep = eps.get(i);
      String statistic =
          i < eps.size() - 1
              ? " -m statistic --mode random --probability " + probability(eps.size() - i)
              : "";
      nat.rule(
          "-A",
          chain,
          "-m comment --comment",
          comment(name + " -> " + ep) + statistic,
          "-j",
          ChainNames.endpoint(p, ep));
    }
  }

  /** kube-proxy's format: ten decimals. */
  static String probability(int n) {
    return String.format(Locale.ROOT, "%.10f", 1.0 / n);
  }
}
