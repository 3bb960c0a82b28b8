package dev.tweed.cli;

import dev.tweed.lab.LabResources;
import dev.tweed.model.Cidr;
import dev.tweed.model.FamilyCidrs;
import dev.tweed.model.IpFamily;
import dev.tweed.model.ProxyMode;
import dev.tweed.proxy.IptablesServiceRenderer;
import dev.tweed.proxy.NftablesServiceRenderer;
import dev.tweed.proxy.ProxyNode;
import dev.tweed.proxy.ServicePortResolver;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code tweed proxy ...}: the service proxy, without touching any kernel. */
@Command(name = "proxy", description = "The service proxy.")
public final class ProxyCommand {

  @Command(
      name = "render",
      description =
          "Print the rules the proxy would program on a node for the Services and EndpointSlices in FILE.")
  static final class Render implements Callable<Integer> {
    @Option(
        names = {"-f", "--filename"},
        required = true)
    Path file;

    @Option(names = "--node-name", required = true)
    String nodeName;

    @Option(
        names = "--cluster-cidr",
        required = true,
        description =
            "Pod CIDRs, one per family (10.244.0.0/16,fd00:10:244::/56): traffic from outside"
                + " them is masqueraded. With two, both families' rules are printed, IPv4 first.")
    String clusterCidr;

    @Option(names = "--node-ip", description = "The node's addresses (repeatable).")
    List<String> nodeIps = new ArrayList<>();

    @Option(names = "--mode", defaultValue = "iptables", description = "iptables | nftables")
    ProxyMode mode;

    @Option(
        names = "--service-cidr",
        defaultValue = "10.96.0.0/16,fd00:10:96::/112",
        description =
            "ClusterIP ranges, one per family (nftables drops traffic to unallocated ones).")
    String serviceCidr;

    @Override
    public Integer call() throws Exception {
      FamilyCidrs pods = FamilyCidrs.parse(clusterCidr);
      FamilyCidrs services = FamilyCidrs.parse(serviceCidr);
      var resources = LabResources.read(file);
      for (Cidr c : new TreeSet<>(pods.cidrs())) {
        IpFamily family = c.family();
        if (pods.dualStack()) {
          System.out.println(
              "# "
                  + family.apiName()
                  + " ("
                  + switch (mode) {
                    case IPTABLES -> family == IpFamily.IPV4 ? "iptables" : "ip6tables";
                    case NFTABLES -> family == IpFamily.IPV4 ? "ip table" : "ip6 table";
                  }
                  + ")");
        }
        var ports = ServicePortResolver.resolveResources(resources, family);
        ProxyNode node =
            new ProxyNode(
                nodeName,
                c.toString(),
                nodeIps.stream().filter(ip -> IpFamily.of(ip) == family).toList());
        System.out.print(
            switch (mode) {
              case NFTABLES ->
                  new NftablesServiceRenderer(
                          node,
                          services
                              .of(family)
                              .orElseThrow(
                                  () ->
                                      new IllegalArgumentException(
                                          "--service-cidr has no " + family.apiName() + " range"))
                              .toString())
                      .render(ports)
                      .render();
              case IPTABLES -> new IptablesServiceRenderer(node).render(ports).render();
            });
      }
      return 0;
    }
  }
}
