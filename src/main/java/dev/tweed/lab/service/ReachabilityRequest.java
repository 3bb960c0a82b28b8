package dev.tweed.lab.service;

import dev.tweed.model.IpFamily;
import java.time.Duration;
import java.util.List;
import java.util.Set;

/**
 * Every ordered pair of running pods (of {@code namespaces}, or all when empty), probed at once, at
 * their addresses of each of {@code families} (empty: the cluster's primary family).
 */
public record ReachabilityRequest(
    Set<String> namespaces, int port, String proto, Duration timeout, List<IpFamily> families) {
  public ReachabilityRequest(Set<String> namespaces, int port, String proto, Duration timeout) {
    this(namespaces, port, proto, timeout, List.of());
  }

  public ReachabilityRequest {
    namespaces = Set.copyOf(namespaces);
    families = List.copyOf(families);
    Protocols.require(proto, List.of("tcp", "udp"), "proto");
    Protocols.port(port, "port");
    if (timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("timeout must be positive");
    }
  }
}
