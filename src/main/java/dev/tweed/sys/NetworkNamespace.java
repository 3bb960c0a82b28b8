package dev.tweed.sys;

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
    try (NetnsFd ns = NetnsFd.open(path)) {
      return call(ns, work);
    }
  }

  /**
   * Runs {@code work} on a new thread that has entered the namespace {@code ns}. Fails with an
   * {@link IllegalArgumentException} when the descriptor is not a network namespace. Processes the
   * work starts run in that namespace too: a child inherits its creating thread's namespaces.
   */
  public static <T> T call(NetnsFd ns, Callable<T> work) throws Exception {
    FutureTask<T> task =
        new FutureTask<>(
            () -> {
              try {
                Libc.setns(ns.fd(), CLONE_NEWNET);
              } catch (Libc.ErrnoException e) {
                throw new IllegalArgumentException("not a network namespace: " + e.getMessage(), e);
              }
              return work.call();
            });
    Thread t = Thread.ofPlatform().name("netns-" + ns.fd()).start(task);
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
}
