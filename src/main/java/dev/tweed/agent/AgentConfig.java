package dev.tweed.agent;

import dev.tweed.datastore.DatastoreSpec;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Where the agent finds its datastore and serves its socket, how often it resyncs, and the pod CIDR
 * (traffic from outside it to a Service is masqueraded), and how pods on other nodes are reached:
 * {@code vxlan} (an overlay the agent programs) or {@code bgp} (routes BIRD learns from peers), and
 * which datapath carries pods' packets: {@code standard} (the kernel's routing and netfilter) or
 * {@code ebpf} (Tweed's tc programs; their maps pinned under {@code bpfPinDir}, on a bpffs); and
 * where it serves Prometheus metrics ({@code host:port}, empty for nowhere).
 */
public record AgentConfig(
    String nodeName,
    DatastoreSpec datastore,
    Path socket,
    Duration resyncInterval,
    String clusterCidr,
    String serviceCidr,
    String proxyMode,
    String routing,
    String dataplane,
    java.util.Optional<Path> bpfObject,
    Path bpfPinDir,
    String metricsAddress) {
  public static final String STANDARD = "standard";
  public static final String EBPF = "ebpf";

  /** Today's datapath (the kernel's routing, netfilter policy), with the BGP or VXLAN routing. */
  public AgentConfig(
      String nodeName,
      DatastoreSpec datastore,
      Path socket,
      Duration resyncInterval,
      String clusterCidr,
      String serviceCidr,
      String proxyMode,
      String routing) {
    this(
        nodeName,
        datastore,
        socket,
        resyncInterval,
        clusterCidr,
        serviceCidr,
        proxyMode,
        routing,
        STANDARD,
        java.util.Optional.empty(),
        Path.of("/sys/fs/bpf/tweed"),
        "");
  }

  public boolean ebpf() {
    return dataplane.equals(EBPF);
  }

  public boolean bgp() {
    return routing.equals("bgp");
  }
}
