package dev.tweed.ebpf;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads the programs' flow events from their ring buffer (libbpf's {@code ring_buffer}, polled on a
 * thread of its own) and hands each to a consumer. The ring buffer has one reader: the agent. A
 * record that cannot be decoded is counted and skipped.
 */
public final class FlowEventReader implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(FlowEventReader.class);
  private static final int POLL_MILLIS = 200;

  private final Arena arena = Arena.ofShared();
  private final MemorySegment ring;
  private final Consumer<FlowEvent> consumer;
  private final Thread thread;
  private volatile boolean open = true;

  public FlowEventReader(int eventsFd, Consumer<FlowEvent> consumer) {
    this.consumer = consumer;
    try {
      MethodHandle sample =
          MethodHandles.lookup()
              .findVirtual(
                  FlowEventReader.class,
                  "sample",
                  MethodType.methodType(
                      int.class, MemorySegment.class, MemorySegment.class, long.class))
              .bindTo(this);
      MemorySegment stub =
          Linker.nativeLinker()
              .upcallStub(
                  sample,
                  FunctionDescriptor.of(
                      ValueLayout.JAVA_INT,
                      ValueLayout.ADDRESS,
                      ValueLayout.ADDRESS,
                      ValueLayout.JAVA_LONG),
                  arena);
      ring = Libbpf.ringBufferNew(eventsFd, stub);
    } catch (ReflectiveOperationException e) {
      arena.close();
      throw new IllegalStateException(e);
    } catch (RuntimeException e) {
      arena.close();
      throw e;
    }
    thread = Thread.ofPlatform().daemon().name("flow-events").start(this::poll);
  }

  private void poll() {
    while (open) {
      Libbpf.ringBufferPoll(ring, POLL_MILLIS);
    }
  }

  /** libbpf's callback, on the polling thread: one record. 0 goes on. */
  private int sample(MemorySegment ctx, MemorySegment data, long size) {
    try {
      byte[] bytes = data.reinterpret(size).toArray(ValueLayout.JAVA_BYTE);
      consumer.accept(FlowEvent.decode(bytes));
    } catch (RuntimeException e) {
      LOG.warn("event=flow-event-skipped size={} error=\"{}\"", size, e.getMessage());
    }
    return 0;
  }

  @Override
  public void close() {
    open = false;
    try {
      thread.join(2 * POLL_MILLIS + 1000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    Libbpf.ringBufferFree(ring);
    arena.close();
  }
}
