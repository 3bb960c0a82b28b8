package dev.tweed.lab.service;

import java.time.Duration;
import java.util.List;
import java.util.Set;

/**
 * Every ordered pair of running pods (of {@code namespaces}, or all when empty), probed at once.
 */
public record ReachabilityRequest(
    Set<String> namespaces, int port, String proto, Duration timeout) {
  public ReachabilityRequest {
    namespaces = Set.copyOf(namespaces);
    Protocols.require(proto, List.of("tcp", "udp"), "proto");
    Protocols.port(port, "port");
    if (timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("timeout must be positive");
    }
  }
}
