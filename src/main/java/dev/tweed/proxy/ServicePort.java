package dev.tweed.proxy;

import dev.tweed.model.IpAddress;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * One port of one Service as the proxy sees it, with the ready endpoints that serve it.
 *
 * @param portName the Service port's name ("" when unnamed)
 * @param protocol TCP, UDP or SCTP
 * @param affinityTimeoutSeconds present when sessionAffinity is ClientIP
 */
public record ServicePort(
    String namespace,
    String name,
    String portName,
    String protocol,
    String clusterIp,
    int port,
    int nodePort,
    List<String> externalIps,
    List<String> loadBalancerIps,
    List<String> loadBalancerSourceRanges,
    Optional<Integer> affinityTimeoutSeconds,
    boolean externalPolicyLocal,
    boolean internalPolicyLocal,
    int healthCheckNodePort,
    List<Endpoint> endpoints) {

  /** A ready backend: address and target port, and the node it runs on. */
  public record Endpoint(String ip, int port, Optional<String> nodeName) {
    /** {@link IpAddress#hostPort}: what DNAT takes and kube-proxy hashes into chain names. */
    @Override
    public String toString() {
      return IpAddress.hostPort(ip, port);
    }
  }

  public ServicePort {
    externalIps = List.copyOf(externalIps);
    loadBalancerIps = List.copyOf(loadBalancerIps);
    loadBalancerSourceRanges = List.copyOf(loadBalancerSourceRanges);
    endpoints = List.copyOf(endpoints);
  }

  /** A plain ClusterIP port: no node port, external addresses, affinity or Local policy. */
  public static ServicePort clusterIp(
      String namespace,
      String name,
      String portName,
      String protocol,
      String clusterIp,
      int port,
      List<Endpoint> endpoints) {
    return new ServicePort(
        namespace,
        name,
        portName,
        protocol,
        clusterIp,
        port,
        0,
        List.of(),
        List.of(),
        List.of(),
        Optional.empty(),
        false,
        false,
        0,
        endpoints);
  }

  /** The same port served by other endpoints. */
  public ServicePort withEndpoints(List<Endpoint> eps) {
    return new ServicePort(
        namespace,
        name,
        portName,
        protocol,
        clusterIp,
        port,
        nodePort,
        externalIps,
        loadBalancerIps,
        loadBalancerSourceRanges,
        affinityTimeoutSeconds,
        externalPolicyLocal,
        internalPolicyLocal,
        healthCheckNodePort,
        eps);
  }

  /** kube-proxy's ServicePortName: {@code namespace/name:port}, or {@code namespace/name}. */
  public String portNameString() {
    return namespace + "/" + name + (portName.isEmpty() ? "" : ":" + portName);
  }

  public String protocolLower() {
    return protocol.toLowerCase(Locale.ROOT);
  }

  /** NodePort, external IPs or load-balancer IPs: reachable from outside the cluster. */
  public boolean externallyAccessible() {
    return nodePort != 0 || !externalIps.isEmpty() || !loadBalancerIps.isEmpty();
  }

  /**
   * Whether traffic ever goes to endpoints by the Cluster policy: internal traffic under Cluster,
   * and any externally reachable port, even under externalTrafficPolicy Local, whose pod and node
   * traffic to external addresses is short-circuited to the Cluster chain (as kube-proxy does).
   */
  public boolean usesClusterEndpoints() {
    return !internalPolicyLocal || externallyAccessible();
  }

  public boolean usesLocalEndpoints() {
    return internalPolicyLocal || (externallyAccessible() && externalPolicyLocal);
  }
}
