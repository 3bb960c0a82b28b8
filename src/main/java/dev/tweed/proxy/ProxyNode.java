package dev.tweed.proxy;

import java.util.List;

/**
 * What the proxy needs to know about the node it programs.
 *
 * @param clusterCidr pod addresses: traffic from elsewhere to a service is masqueraded
 * @param nodeIps the node's own addresses (a load-balancer source range that holds one lets the
 *     node reach the load-balancer IP)
 */
public record ProxyNode(String nodeName, String clusterCidr, List<String> nodeIps) {
  public ProxyNode {
    nodeIps = List.copyOf(nodeIps);
  }
}
