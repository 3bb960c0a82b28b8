package dev.tweed.agent;

import dev.tweed.datastore.DatastoreSpec;
import dev.tweed.model.Datapath;
import dev.tweed.model.FamilyCidrs;
import dev.tweed.model.IpFamily;
import dev.tweed.model.ProxyMode;
import dev.tweed.model.Routing;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;

/**
 * Where the agent finds its datastore and serves its socket, how often it resyncs, the pod CIDRs
 * and Service ranges, one per family of the cluster (traffic from outside the pod CIDR to a Service
 * is masqueraded), how pods on other nodes are reached ({@link Routing}), which datapath carries
 * pods' packets ({@link Datapath}; the eBPF one's maps pinned under {@code bpfPinDir}, on a bpffs)
 * and in which layout the standard one writes netfilter ({@link ProxyMode}); and where it serves
 * Prometheus metrics ({@code host:port}, empty for nowhere); and whether pods' traffic to outside
 * the pod CIDR leaves with the node's address ({@code natOutgoing}, Calico's pool setting).
 */
public record AgentConfig(
    String nodeName,
    DatastoreSpec datastore,
    Path socket,
    Duration resyncInterval,
    FamilyCidrs clusterCidrs,
    FamilyCidrs serviceCidrs,
    ProxyMode proxyMode,
    Routing routing,
    Datapath datapath,
    Optional<Path> bpfObject,
    Path bpfPinDir,
    String metricsAddress,
    boolean natOutgoing) {

  public boolean ebpf() {
    return datapath == Datapath.EBPF;
  }

  public boolean bgp() {
    return routing == Routing.BGP;
  }

  /** The cluster's pod families. */
  public Set<IpFamily> families() {
    return clusterCidrs.familySet();
  }
}
