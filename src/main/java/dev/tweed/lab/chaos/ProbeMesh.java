package dev.tweed.lab.chaos;

import dev.tweed.lab.ProbeClient;
import dev.tweed.lab.ProbeResult;
import dev.tweed.sys.NetworkNamespace;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Real TCP probes kept flowing on every path at once: one sender per path, each connecting, reading
 * the pod's answer and pausing, and recording when each probe started and every probe that failed.
 */
public final class ProbeMesh implements AutoCloseable {
  /**
   * A probed path: from a pod's namespace (and address) to an address and port; {@code servers} are
   * the addresses that answer it (the pod, or the Service's backends), {@code nodes} the nodes it
   * depends on (the client's, the server's, or every node with a backend of the Service).
   */
  public record Path(
      String label,
      String fromNetns,
      String fromIp,
      String ip,
      int port,
      Set<String> servers,
      Set<String> nodes) {
    public Path {
      servers = Set.copyOf(servers);
      nodes = Set.copyOf(nodes);
    }
  }

  /**
   * A probe that did not connect or was not answered, when it started (System.nanoTime, and the
   * wall clock the datapath's flows are stamped with), and why: whether a connection was made at
   * all (from which port) tells a lost handshake from a lost answer.
   */
  public record Failure(Path path, long startNanos, Instant startedAt, String reason) {
    static String reason(ProbeResult r) {
      if (r.localPort() == 0) {
        return r.reason().equals("timed out") ? "timed out connecting" : r.reason();
      }
      return "connected from port "
          + r.localPort()
          + ", then "
          + r.reason()
          + " awaiting the answer";
    }
  }

  private final AtomicBoolean stop = new AtomicBoolean();
  private final List<Failure> failures = Collections.synchronizedList(new ArrayList<>());
  private final List<Sender> senders = new ArrayList<>();
  private final Duration timeout;
  private final Duration pause;

  public ProbeMesh(List<Path> paths, Duration pause, Duration timeout) {
    this.pause = pause;
    this.timeout = timeout;
    for (Path p : paths) {
      Sender s = new Sender(p);
      senders.add(s);
      s.thread = Thread.ofVirtual().start(s::run);
    }
  }

  public Duration timeout() {
    return timeout;
  }

  /** One path's sender, keeping its probes' start times (only it writes them). */
  private final class Sender {
    final Path path;
    Thread thread;
    long[] starts = new long[1024];
    int count;

    Sender(Path path) {
      this.path = path;
    }

    void run() {
      java.nio.file.Path netns = NetworkNamespace.pathOf(path.fromNetns());
      while (!stop.get()) {
        long start = System.nanoTime();
        Instant startedAt = Instant.now();
        String failed;
        try {
          ProbeResult r = ProbeClient.probe(netns, path.ip(), path.port(), "tcp", timeout);
          failed = r.connected() ? null : Failure.reason(r);
        } catch (Exception e) {
          failed = e.toString();
        }
        synchronized (this) {
          if (count == starts.length) {
            starts = Arrays.copyOf(starts, count * 2);
          }
          starts[count++] = start;
        }
        if (failed != null) {
          failures.add(new Failure(path, start, startedAt, failed));
        }
        try {
          Thread.sleep(pause);
        } catch (InterruptedException e) {
          return;
        }
      }
    }

    synchronized long startedBetween(long from, long to) {
      long n = 0;
      for (int i = 0; i < count; i++) {
        if (starts[i] >= from && starts[i] <= to) {
          n++;
        }
      }
      return n;
    }

    synchronized int sent() {
      return count;
    }
  }

  public List<Path> paths() {
    return senders.stream().map(s -> s.path).toList();
  }

  /** Probes started in [from, to] (System.nanoTime), on every path. */
  public long sentBetween(long from, long to) {
    return senders.stream().mapToLong(s -> s.startedBetween(from, to)).sum();
  }

  public long sent() {
    return senders.stream().mapToLong(Sender::sent).sum();
  }

  public List<Failure> failures() {
    synchronized (failures) {
      return List.copyOf(failures);
    }
  }

  /** Stops every sender and waits for its last probe. */
  @Override
  public void close() throws InterruptedException {
    stop.set(true);
    for (Sender s : senders) {
      s.thread.join();
    }
  }
}
