package dev.tweed.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.model.Json;
import dev.tweed.sys.NetworkNamespace;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Every Service test again with the eBPF datapath, whose programs load-balance Services in place of
 * the proxy's rules: the same traffic, the same answers, and no service rule in iptables or nft;
 * dual-stack Services answer at their IPv6 clusterIPs and node ports from the IPv6 maps.
 */
class EbpfServiceIT extends ServiceIT {
  @Override
  String dataplane() {
    return "ebpf";
  }

  /** node-1's conntrack entries from {@code ip} to port {@code port}. */
  private List<JsonNode> connections(String ip, int port) {
    List<JsonNode> out = new ArrayList<>();
    for (JsonNode c : Json.parse(tweed.ok("lab", "bpf", "node-1", "conntrack", "-o", "json"))) {
      if (ip.equals(c.path("source").asText()) && c.path("destinationPort").asInt() == port) {
        out.add(c);
      }
    }
    return out;
  }

  @Test
  void endedConnectionsLeaveTheConntrackMapAndAnIdleLiveOneStays() throws Exception {
    Path yaml = podWithService("idler", 9091);
    Path idlerNs = NetworkNamespace.pathOf(tweed.prefix() + "pod-default-idler");
    String clientIp = tweed.podIp("client");
    // The server closes once it has read 2 bytes: one now, one after the collector has run.
    try (AutoCloseable server = ShortConnections.readingServer(idlerNs, 9091, 2)) {
      String idler = service("idler").path("spec").path("clusterIP").asText();
      Tweed.await(
          idler + ":9091 accepts",
          Duration.ofSeconds(10),
          () -> ShortConnections.connects(client, idler, 9091));
      Socket idle =
          NetworkNamespace.call(
              client,
              () -> {
                Socket s = new Socket();
                s.connect(new InetSocketAddress(idler, 9091), 3000);
                s.getOutputStream().write(1);
                return s;
              });
      try (idle) {
        String web = service("web").path("spec").path("clusterIP").asText();
        ShortConnections.Burst b =
            ShortConnections.burst(client, web, 80, 2_000, Duration.ofSeconds(3));
        assertThat(b.lost()).isZero();
        // Each connection: the request to the frontend, and the translated one its replies use.
        assertThat(connections(clientIp, 80)).hasSizeGreaterThan(1_000);
        assertThat(connections(clientIp, 8080)).hasSizeGreaterThan(1_000);
        // The collector removes them once they have been quiet for 10 s after their FINs.
        Tweed.await(
            "the ended connections gone from node-1's conntrack map",
            Duration.ofSeconds(40),
            () -> connections(clientIp, 80).isEmpty() && connections(clientIp, 8080).isEmpty());
        int port = idle.getLocalPort();
        assertThat(connections(clientIp, 9091))
            .as("the idle connection's request and reply entries")
            .filteredOn(c -> c.path("sourcePort").asInt() == port)
            .hasSize(2);
        idle.getOutputStream().write(2);
        idle.setSoTimeout(3000);
        InputStream in = idle.getInputStream();
        assertThat(in.read()).as("the server's close, through the same translation").isEqualTo(-1);
      }
    } finally {
      tweed.ok("lab", "delete", "-f", yaml.toString());
    }
  }
}
