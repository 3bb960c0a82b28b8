package dev.tweed.cli;

import dev.tweed.lab.LabResources;
import dev.tweed.model.Cidr;
import dev.tweed.model.ProxyMode;
import dev.tweed.proxy.IptablesServiceRenderer;
import dev.tweed.proxy.NftablesServiceRenderer;
import dev.tweed.proxy.ProxyNode;
import dev.tweed.proxy.ServicePortResolver;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
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
        description = "Pod CIDR: traffic from outside it is masqueraded.")
    String clusterCidr;

    @Option(names = "--node-ip", description = "The node's addresses (repeatable).")
    List<String> nodeIps = new ArrayList<>();

    @Option(names = "--mode", defaultValue = "iptables", description = "iptables | nftables")
    ProxyMode mode;

    @Option(
        names = "--service-cidr",
        defaultValue = "10.96.0.0/16",
        description = "ClusterIP range (nftables drops traffic to unallocated ones).")
    String serviceCidr;

    @Override
    public Integer call() throws Exception {
      Cidr.parse(clusterCidr);
      var ports = ServicePortResolver.resolveResources(LabResources.read(file));
      ProxyNode node = new ProxyNode(nodeName, clusterCidr, nodeIps);
      System.out.print(
          switch (mode) {
            case NFTABLES -> new NftablesServiceRenderer(node, serviceCidr).render(ports).render();
            case IPTABLES -> new IptablesServiceRenderer(node).render(ports).render();
          });
      return 0;
    }
  }
}
