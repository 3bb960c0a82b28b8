package dev.tweed.calc;

import dev.tweed.model.IpamBlock;
import dev.tweed.model.NodeResource;
import dev.tweed.model.WorkloadEndpoint;
import java.util.List;

/** The resources the calculation graph reads, as the syncer has them at one revision. */
public record ClusterState(
    List<NodeResource> nodes, List<IpamBlock> blocks, List<WorkloadEndpoint> endpoints) {
  public ClusterState {
    nodes = List.copyOf(nodes);
    blocks = List.copyOf(blocks);
    endpoints = List.copyOf(endpoints);
  }
}
