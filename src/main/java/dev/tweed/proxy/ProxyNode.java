package dev.tweed.proxy;

import dev.tweed.model.Cidr;
import dev.tweed.model.IpFamily;
import java.util.List;

/**
 * What one family's proxier needs to know about the node it programs (a dual-stack node has one per
 * family, each with that family's pod CIDR and addresses).
 *
 * @param clusterCidr pod addresses: traffic from elsewhere to a service is masqueraded
 * @param nodeIps the node's own addresses (a load-balancer source range that holds one lets the
 *     node reach the load-balancer IP)
 */
public record ProxyNode(String nodeName, String clusterCidr, List<String> nodeIps) {
  public ProxyNode {
    nodeIps = List.copyOf(nodeIps);
  }

  /** The family this node's proxier writes: its pod CIDR's. */
  public IpFamily family() {
    return Cidr.parse(clusterCidr).family();
  }
}
