package dev.tweed.calc;

import dev.tweed.model.IpamBlock;
import dev.tweed.model.NodeResource;
import dev.tweed.model.WorkloadEndpoint;
import java.util.List;
import java.util.Optional;
import java.util.TreeMap;

/**
 * Nodes, IPAM blocks and workload endpoints as a whole, for the consumers that read them whole:
 * BIRD's configuration and the eBPF datapath's endpoint and IP cache calculation. The snapshot is
 * rebuilt only after one of them changed, and only when asked for.
 */
final class ClusterInputs {
  private final TreeMap<String, NodeResource> nodes = new TreeMap<>();
  private final TreeMap<String, IpamBlock> blocks = new TreeMap<>();
  private final TreeMap<String, WorkloadEndpoint> endpoints = new TreeMap<>();
  private Optional<ClusterState> state = Optional.empty();

  void node(String key, Optional<NodeResource> n) {
    put(nodes, key, n);
  }

  void block(String key, Optional<IpamBlock> b) {
    put(blocks, key, b);
  }

  void endpoint(String key, Optional<WorkloadEndpoint> w) {
    put(endpoints, key, w);
  }

  private <T> void put(TreeMap<String, T> into, String key, Optional<T> value) {
    value.ifPresentOrElse(v -> into.put(key, v), () -> into.remove(key));
    state = Optional.empty();
  }

  ClusterState state() {
    if (state.isEmpty()) {
      state =
          Optional.of(
              new ClusterState(
                  List.copyOf(nodes.values()),
                  List.copyOf(blocks.values()),
                  List.copyOf(endpoints.values())));
    }
    return state.get();
  }

  /** A node by its resource key. */
  Optional<NodeResource> node(String key) {
    return Optional.ofNullable(nodes.get(key));
  }
}
