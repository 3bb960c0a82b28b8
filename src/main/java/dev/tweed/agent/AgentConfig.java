package dev.tweed.agent;

import dev.tweed.datastore.DatastoreSpec;
import dev.tweed.model.Datapath;
import dev.tweed.model.ProxyMode;
import dev.tweed.model.Routing;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/**
 * Where the agent finds its datastore and serves its socket, how often it resyncs, and the pod CIDR
 * (traffic from outside it to a Service is masqueraded), how pods on other nodes are reached
 * ({@link Routing}), which datapath carries pods' packets ({@link Datapath}; the eBPF one's maps
 * pinned under {@code bpfPinDir}, on a bpffs) and in which layout the standard one writes netfilter
 * ({@link ProxyMode}); and where it serves Prometheus metrics ({@code host:port}, empty for
 * nowhere).
 */
public record AgentConfig(
    String nodeName,
    DatastoreSpec datastore,
    Path socket,
    Duration resyncInterval,
    String clusterCidr,
    String serviceCidr,
    ProxyMode proxyMode,
    Routing routing,
    Datapath datapath,
    Optional<Path> bpfObject,
    Path bpfPinDir,
    String metricsAddress) {

  public boolean ebpf() {
    return datapath == Datapath.EBPF;
  }

  public boolean bgp() {
    return routing == Routing.BGP;
  }
}
