package dev.tweed.agent;

import java.nio.file.Path;
import java.time.Duration;

/**
 * Where the agent finds its store and serves its socket, how often it resyncs, and the pod CIDR
 * (traffic from outside it to a Service is masqueraded).
 */
public record AgentConfig(
    String nodeName,
    Path storeDir,
    Path socket,
    Duration resyncInterval,
    String clusterCidr,
    String serviceCidr,
    String proxyMode) {}
