package dev.tweed.ebpf;

import java.util.function.Consumer;

/**
 * Reads the programs' flow events from their ring buffer and hands each to a consumer. The ring
 * buffer has one reader: the agent. A record that cannot be decoded is logged and skipped.
 */
public final class FlowEventReader implements AutoCloseable {
  private final RingBufferReader reader;

  public FlowEventReader(int eventsFd, Consumer<FlowEvent> consumer) {
    this.reader =
        new RingBufferReader(
            eventsFd, "flow-events", bytes -> consumer.accept(FlowEvent.decode(bytes)));
  }

  @Override
  public void close() {
    reader.close();
  }
}
