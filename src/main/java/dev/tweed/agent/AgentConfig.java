package dev.tweed.agent;

import dev.tweed.datastore.DatastoreSpec;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Where the agent finds its datastore and serves its socket, how often it resyncs, and the pod CIDR
 * (traffic from outside it to a Service is masqueraded), and how pods on other nodes are reached:
 * {@code vxlan} (an overlay the agent programs) or {@code bgp} (routes BIRD learns from peers).
 */
public record AgentConfig(
    String nodeName,
    DatastoreSpec datastore,
    Path socket,
    Duration resyncInterval,
    String clusterCidr,
    String serviceCidr,
    String proxyMode,
    String routing) {

  public boolean bgp() {
    return routing.equals("bgp");
  }
}
