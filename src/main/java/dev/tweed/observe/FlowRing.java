package dev.tweed.observe;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongFunction;

/**
 * The agent's recent flows: a bounded ring, the oldest dropped first when it is full (and counted),
 * each flow numbered so a reader can ask for what came after the last one it saw.
 */
public final class FlowRing {
  private final int capacity;
  private final ArrayDeque<Flow> flows;
  private long next = 1;
  private long overwritten;

  public FlowRing(int capacity) {
    this.capacity = capacity;
    this.flows = new ArrayDeque<>(capacity);
  }

  /** Adds the flow {@code make} builds with the next number. */
  public synchronized Flow add(LongFunction<Flow> make) {
    Flow f = make.apply(next++);
    if (flows.size() == capacity) {
      flows.removeFirst();
      overwritten++;
    }
    flows.addLast(f);
    return f;
  }

  /** What a reader gets: the flows after {@code seq}, the number to ask from next, the losses. */
  public record Page(List<Flow> flows, long next, long overwritten, int capacity) {}

  public synchronized Page after(long seq) {
    List<Flow> out = new ArrayList<>();
    for (Flow f : flows) {
      if (f.seq() > seq) {
        out.add(f);
      }
    }
    return new Page(out, next - 1, overwritten, capacity);
  }

  public synchronized long overwritten() {
    return overwritten;
  }
}
