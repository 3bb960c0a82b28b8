package dev.tweed.kernel;

import java.util.List;
import java.util.Optional;

/** One neighbour (ARP) entry, as {@code ip -j neigh} prints it. */
public record NeighbourEntry(
    String address, String dev, Optional<String> lladdr, List<String> state, boolean proxy) {

  /** Whether the kernel would use the entry without asking again. */
  public boolean usable() {
    return lladdr.isPresent() && state.stream().noneMatch(s -> s.equals("FAILED"));
  }
}
