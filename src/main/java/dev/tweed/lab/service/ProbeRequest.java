package dev.tweed.lab.service;

import dev.tweed.model.IpFamily;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * Real traffic from a pod ({@code NS/POD}, or {@code router} for the world outside) to a pod or an
 * address; {@code clientIp} asks the answering pod which source address it saw (UDP only). A pod is
 * reached at its address of {@code family}, or at its primary address when none is asked for.
 */
public record ProbeRequest(
    String from,
    String to,
    int port,
    String proto,
    Duration timeout,
    boolean clientIp,
    Optional<IpFamily> family) {
  public ProbeRequest(
      String from, String to, int port, String proto, Duration timeout, boolean clientIp) {
    this(from, to, port, proto, timeout, clientIp, Optional.empty());
  }

  public ProbeRequest {
    Protocols.require(proto, List.of("tcp", "udp"), "proto");
    Protocols.port(port, "port");
    if (clientIp && !proto.equals("udp")) {
      throw new IllegalArgumentException("client-ip needs proto udp");
    }
    if (timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("timeout must be positive");
    }
  }
}
