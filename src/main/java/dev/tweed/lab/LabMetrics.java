package dev.tweed.lab;

import dev.tweed.sys.NamespaceTcpForwarder;
import dev.tweed.sys.NetworkNamespace;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.function.LongPredicate;

/**
 * The lab's view of its agents' metrics: one agent's {@code /metrics} as Prometheus scrapes it, and
 * the lab's own Prometheus ({@code lab up --monitoring}: Debian's {@code prometheus} in the
 * router's namespace, scraping every agent on its node's address). Both live only inside the lab's
 * namespaces; the CLI reaches them through a loopback port forwarded into the namespace.
 */
public final class LabMetrics {
  private final LabLayout layout;

  public LabMetrics(LabLayout layout) {
    this.layout = layout;
  }

  /** The agent's metrics exposition, as {@code GET /metrics} returns it. */
  public String scrape(String node) {
    return get(
        layout.nodeNs(node),
        new InetSocketAddress(LabLayout.nodeIp(node), LabLayout.METRICS_PORT),
        "/metrics");
  }

  /** The lab Prometheus's answer to an instant query, as its HTTP API returns it (JSON). */
  public String query(String promql) {
    return get(
        layout.prefix() + "router",
        new InetSocketAddress(LabLayout.ROUTER_IP, LabLayout.PROMETHEUS_PORT),
        "/api/v1/query?query=" + URLEncoder.encode(promql, StandardCharsets.UTF_8));
  }

  private static String get(String netns, InetSocketAddress target, String path) {
    try (NamespaceTcpForwarder f =
            new NamespaceTcpForwarder(NetworkNamespace.pathOf(netns), target);
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)).build()) {
      InetSocketAddress local = f.local();
      HttpResponse<String> r =
          http.send(
              HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + local.getPort() + path))
                  .timeout(Duration.ofSeconds(10))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      if (r.statusCode() != 200) {
        throw new IllegalStateException(
            "http://"
                + target.getHostString()
                + ":"
                + target.getPort()
                + path
                + " answered "
                + r.statusCode()
                + ": "
                + r.body());
      }
      return r.body();
    } catch (IOException e) {
      throw new UncheckedIOException(
          "cannot reach "
              + target.getHostString()
              + ":"
              + target.getPort()
              + " in "
              + netns
              + ": "
              + e.getMessage(),
          e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** The scrape configuration: every agent of the lab on its node's address, every 2 s. */
  static String prometheusConfig(int nodes) {
    StringBuilder targets = new StringBuilder();
    for (int i = 1; i <= nodes; i++) {
      targets
          .append(i == 1 ? "" : ", ")
          .append('\'')
          .append(LabLayout.nodeIp(i))
          .append(':')
          .append(LabLayout.METRICS_PORT)
          .append('\'');
    }
    return """
        # Written by tweed lab up --monitoring.
        global:
          scrape_interval: 2s
          evaluation_interval: 2s
        scrape_configs:
          - job_name: tweed-agent
            static_configs:
              - targets: [%s]
        """
        .formatted(targets);
  }

  /**
   * {@code lab up --monitoring}: Prometheus started, recorded in the lab's state (so {@code lab
   * down} stops it) and waited for until it answers queries.
   */
  public void startMonitoring() {
    LabState state =
        LabState.read(layout)
            .orElseThrow(() -> new IllegalStateException("no lab " + layout.name()));
    long pid = startPrometheus(state.spec().nodes());
    state.withPid("prometheus", pid).write(layout);
    long deadline = System.nanoTime() + 30_000_000_000L;
    while (true) {
      try {
        query("up");
        return;
      } catch (RuntimeException notYet) {
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException(
              "Prometheus did not answer within 30 s; see "
                  + layout.logDir().resolve("prometheus.log"),
              notYet);
        }
      }
      try {
        Thread.sleep(200);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException(e);
      }
    }
  }

  /**
   * Stops the lab's Prometheus, recorded or not (after a crash): the one whose configuration is
   * under this lab's directory, which no other process has.
   */
  public static List<Long> stopPrometheus(LabLayout layout) {
    String config = "--config.file=" + layout.dir().resolve("prometheus").resolve("prometheus.yml");
    LongPredicate ours = pid -> LabProcesses.argv(pid).map(a -> a.contains(config)).orElse(false);
    List<Long> found = LabProcesses.find(ours);
    for (long pid : found) {
      LabProcesses.stop(pid, ours, false);
    }
    return found;
  }

  /**
   * Starts Prometheus in the router's namespace with its configuration and data under the lab's
   * directory, listening on the router's address only; returns its PID (the lab records it, and
   * {@code lab down} stops it).
   */
  public long startPrometheus(int nodes) {
    Path dir = layout.dir().resolve("prometheus");
    try {
      Files.createDirectories(dir.resolve("data"));
      Files.writeString(dir.resolve("prometheus.yml"), prometheusConfig(nodes));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return LabProcesses.startDetached(
        Optional.of(layout.prefix() + "router"),
        List.of(
            "prometheus",
            "--config.file=" + dir.resolve("prometheus.yml"),
            "--storage.tsdb.path=" + dir.resolve("data"),
            "--web.listen-address=" + LabLayout.ROUTER_IP + ":" + LabLayout.PROMETHEUS_PORT,
            "--web.console.templates=/dev/null",
            "--web.console.libraries=/dev/null"),
        layout.logDir().resolve("prometheus.log"));
  }
}
