package dev.tweed.proxy;

import java.util.ArrayList;
import java.util.List;

/**
 * What one service port's traffic policies make of its endpoints on one node (kube-proxy's
 * CategorizeEndpoints): which endpoints Cluster and Local policy use, and so which chains exist and
 * which traffic is rejected or dropped. Both proxy modes render from this one decision.
 *
 * @param cluster endpoints for Cluster policy (empty when no traffic uses it)
 * @param local this node's endpoints, when some traffic uses Local policy
 * @param reachable every endpoint a chain of this port can lead to
 * @param hasInternal clusterIP traffic has somewhere to go
 * @param hasExternal traffic from outside (NodePort, external and LB IPs) has somewhere to go
 * @param usesExternalChain an external-destinations chain exists
 * @param usesFirewall a load-balancer source-range chain exists
 */
public record PortPolicy(
    List<ServicePort.Endpoint> cluster,
    List<ServicePort.Endpoint> local,
    List<ServicePort.Endpoint> reachable,
    boolean hasEndpoints,
    boolean hasInternal,
    boolean hasExternal,
    boolean usesExternalChain,
    boolean usesFirewall) {

  public static PortPolicy of(ServicePort p, String nodeName) {
    List<ServicePort.Endpoint> all = p.endpoints();
    List<ServicePort.Endpoint> onNode =
        all.stream().filter(e -> e.nodeName().map(nodeName::equals).orElse(false)).toList();
    List<ServicePort.Endpoint> cluster = p.usesClusterEndpoints() ? all : List.of();
    List<ServicePort.Endpoint> local = p.usesLocalEndpoints() ? onNode : List.of();
    List<ServicePort.Endpoint> reachable = new ArrayList<>(cluster);
    local.stream().filter(e -> !reachable.contains(e)).forEach(reachable::add);
    boolean hasEndpoints = !all.isEmpty();
    return new PortPolicy(
        cluster,
        local,
        List.copyOf(reachable),
        hasEndpoints,
        hasEndpoints && (!p.internalPolicyLocal() || !onNode.isEmpty()),
        hasEndpoints && (!p.externalPolicyLocal() || !onNode.isEmpty()),
        hasEndpoints && p.externallyAccessible(),
        hasEndpoints && !p.loadBalancerIps().isEmpty() && !p.loadBalancerSourceRanges().isEmpty());
  }
}
