package dev.tweed.observe;

import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * Serves an agent's metrics at {@code http://ADDRESS:PORT/metrics} on the JDK's HTTP server. The
 * agent runs in its node's network namespace, so the address is one of the node's.
 */
public final class MetricsServer implements AutoCloseable {
  private final HTTPServer server;

  /** {@code address} is {@code host:port}; the host may be 0.0.0.0. */
  public MetricsServer(String address, AgentMetrics metrics) {
    int colon = address.lastIndexOf(':');
    if (colon < 0) {
      throw new IllegalArgumentException("--metrics-address wants HOST:PORT, got " + address);
    }
    try {
      server =
          HTTPServer.builder()
              .hostname(address.substring(0, colon))
              .port(Integer.parseInt(address.substring(colon + 1)))
              .registry(metrics.registry())
              .buildAndStart();
    } catch (IOException e) {
      throw new UncheckedIOException("metrics on " + address + ": " + e.getMessage(), e);
    }
  }

  public int port() {
    return server.getPort();
  }

  @Override
  public void close() {
    server.close();
  }
}
