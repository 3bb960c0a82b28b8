package dev.tweed.ebpf;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.file.Path;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads a BPF ring buffer's records (libbpf's {@code ring_buffer}, polled on a thread of its own)
 * and hands each record's bytes to a consumer. A ring buffer has one reader; a record the consumer
 * cannot take is logged and skipped.
 */
public final class RingBufferReader implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(RingBufferReader.class);
  private static final int POLL_MILLIS = 200;

  private final Arena arena = Arena.ofShared();
  private final MemorySegment ring;
  private final Consumer<byte[]> consumer;
  private final Thread thread;
  private final int ownedFd;
  private volatile boolean open = true;

  public RingBufferReader(int fd, String name, Consumer<byte[]> consumer) {
    this(fd, name, consumer, -1);
  }

  private RingBufferReader(int fd, String name, Consumer<byte[]> consumer, int ownedFd) {
    this.consumer = consumer;
    this.ownedFd = ownedFd;
    try {
      MethodHandle sample =
          MethodHandles.lookup()
              .findVirtual(
                  RingBufferReader.class,
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
      ring = Libbpf.ringBufferNew(fd, stub);
    } catch (ReflectiveOperationException e) {
      arena.close();
      throw new IllegalStateException(e);
    } catch (RuntimeException e) {
      arena.close();
      throw e;
    }
    thread = Thread.ofPlatform().daemon().name(name).start(this::poll);
  }

  /** The ring buffer pinned at {@code path}, opened by its pin and closed with the reader. */
  public static RingBufferReader pinned(Path path, Consumer<byte[]> consumer) {
    int fd = Libbpf.objGet(path.toString());
    try {
      return new RingBufferReader(fd, path.getFileName().toString(), consumer, fd);
    } catch (RuntimeException e) {
      Libbpf.closeFd(fd);
      throw e;
    }
  }

  private void poll() {
    while (open) {
      Libbpf.ringBufferPoll(ring, POLL_MILLIS);
    }
  }

  /** libbpf's callback, on the polling thread: one record. 0 goes on. */
  private int sample(MemorySegment ctx, MemorySegment data, long size) {
    try {
      consumer.accept(data.reinterpret(size).toArray(ValueLayout.JAVA_BYTE));
    } catch (RuntimeException e) {
      LOG.warn("event=ring-record-skipped size={} error=\"{}\"", size, e.getMessage());
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
    if (ownedFd >= 0) {
      Libbpf.closeFd(ownedFd);
    }
  }
}
