package dev.tweed.it;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * A network namespace named only by a process in it ({@code /proc/PID/ns/net}), as runtimes may
 * name a pod's: a {@code sleep} that {@code unshare --net} started in a namespace of its own. It
 * goes with the process when closed.
 */
final class ProcessNetns implements AutoCloseable {
  private final Process holder;

  private ProcessNetns(Process holder) {
    this.holder = holder;
  }

  static ProcessNetns start() throws IOException {
    ProcessNetns n =
        new ProcessNetns(new ProcessBuilder("unshare", "--net", "sleep", "120").start());
    Tweed.await("a process in a network namespace of its own", Duration.ofSeconds(5), n::entered);
    return n;
  }

  Path path() {
    return Path.of("/proc", Long.toString(holder.pid()), "ns", "net");
  }

  private boolean entered() {
    try {
      return !Files.readSymbolicLink(path())
          .equals(Files.readSymbolicLink(Path.of("/proc/self/ns/net")));
    } catch (IOException e) {
      return false;
    }
  }

  @Override
  public void close() throws InterruptedException {
    holder.destroy();
    holder.waitFor();
  }
}
