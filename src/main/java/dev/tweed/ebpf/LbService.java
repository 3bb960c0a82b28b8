package dev.tweed.ebpf;

import java.util.List;
import java.util.Optional;

/**
 * One Service port as the load-balancing maps hold it on one node: its frontends, the backends of
 * each scope in slot order, and the source ranges of its load-balancer IPs.
 *
 * @param key kube-proxy's service port name and the protocol, {@code ns/name:port/TCP}
 * @param id the service's number in the maps
 * @param external the backends of traffic from outside (node port, external and LB IPs), present
 *     when the Service has such frontends
 */
public record LbService(
    String key,
    int id,
    List<Frontend> frontends,
    Scope internal,
    Optional<Scope> external,
    int affinitySeconds,
    List<String> sourceRanges) {
  public LbService {
    frontends = List.copyOf(frontends);
    sourceRanges = List.copyOf(sourceRanges);
  }

  /** An address, port and protocol that the programs translate to this service. */
  public record Frontend(
      String ip, int port, int protocol, boolean external, boolean masquerade, boolean ranges) {}

  /**
   * The backends of one scope in slot order (slot i+1 holds backends[i]); {@code dropWhenEmpty}: no
   * backend here but some on other nodes, so traffic is dropped rather than refused.
   */
  public record Scope(List<Backend> backends, boolean dropWhenEmpty) {
    public Scope {
      backends = List.copyOf(backends);
    }
  }

  /** A ready endpoint: its id in the backend map, address, port and node. */
  public record Backend(int id, String ip, int port, String node) {}

  public static final int TCP = 6;
  public static final int UDP = 17;

  public static int protocolNumber(String protocol) {
    return switch (protocol) {
      case "TCP" -> TCP;
      case "UDP" -> UDP;
      default -> throw new IllegalArgumentException("no eBPF load balancing for " + protocol);
    };
  }
}
