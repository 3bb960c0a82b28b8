package dev.tweed.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;

/**
 * Runs code inside another network namespace through {@code setns(2)}, reached with the Foreign
 * Function and Memory API.
 *
 * <p>{@code setns(CLONE_NEWNET)} moves only the calling OS thread, so the work runs on a fresh
 * platform thread that exits afterwards: no pooled thread is ever left in a foreign namespace. A
 * socket opened there stays in that namespace for its whole life, wherever it is used later.
 */
public final class NetworkNamespace {
  private static final int CLONE_NEWNET = 0x40000000;
  private static final Linker LINKER = Linker.nativeLinker();
  private static final Linker.Option ERRNO = Linker.Option.captureCallState("errno");
  private static final VarHandle ERRNO_HANDLE =
      Linker.Option.captureStateLayout()
          .varHandle(java.lang.foreign.MemoryLayout.PathElement.groupElement("errno"));
  private static final MethodHandle SETNS =
      LINKER.downcallHandle(
          LINKER.defaultLookup().find("setns").orElseThrow(),
          FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT),
          ERRNO);
  private static final MethodHandle OPEN =
      LINKER.downcallHandle(
          LINKER.defaultLookup().find("open").orElseThrow(),
          FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT),
          ERRNO);
  private static final MethodHandle CLOSE =
      LINKER.downcallHandle(
          LINKER.defaultLookup().find("close").orElseThrow(),
          FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
  private static final int O_RDONLY_CLOEXEC = 0x80000;

  private NetworkNamespace() {}

  /** The path of a named namespace as {@code ip netns add} creates it. */
  public static Path pathOf(String name) {
    return Path.of("/run/netns", name);
  }

  /** Runs {@code work} on a new thread that has entered the namespace at {@code path}. */
  public static <T> T call(Path path, Callable<T> work) throws Exception {
    if (!Files.exists(path)) {
      throw new IllegalArgumentException("no network namespace at " + path);
    }
    FutureTask<T> task =
        new FutureTask<>(
            () -> {
              enterOnThisThread(path);
              return work.call();
            });
    Thread t = Thread.ofPlatform().name("netns-" + path.getFileName()).start(task);
    try {
      return task.get();
    } catch (ExecutionException e) {
      if (e.getCause() instanceof Exception ex) {
        throw ex;
      }
      throw e;
    } finally {
      t.join();
    }
  }

  private static void enterOnThisThread(Path path) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment state = arena.allocate(Linker.Option.captureStateLayout());
      int fd = (int) OPEN.invokeExact(state, arena.allocateFrom(path.toString()), O_RDONLY_CLOEXEC);
      if (fd < 0) {
        throw new IllegalStateException("open " + path + ": errno " + errno(state));
      }
      try {
        int rc = (int) SETNS.invokeExact(state, fd, CLONE_NEWNET);
        if (rc != 0) {
          throw new IllegalStateException("setns " + path + ": errno " + errno(state));
        }
      } finally {
        int ignored = (int) CLOSE.invokeExact(fd);
      }
    } catch (RuntimeException | Error e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException("setns " + path + " failed", t);
    }
  }

  private static int errno(MemorySegment state) {
    return (int) ERRNO_HANDLE.get(state, 0L);
  }
}
