package dev.tweed.it;

import dev.tweed.lab.ProbeClient;
import dev.tweed.lab.ProbeResult;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Real traffic kept flowing while a test disturbs the lab: one sender per (source, target,
 * protocol), each probing every 20 ms with a 1 s timeout and recording every probe that did not
 * connect.
 */
final class ContinuousProbes implements AutoCloseable {
  /** One probed path: from a pod's namespace to an address and port. */
  record Path4(String label, Path fromNetns, String ip, int port, String proto) {}

  private final AtomicBoolean stop = new AtomicBoolean();
  private final AtomicInteger sent = new AtomicInteger();
  private final List<String> lost = Collections.synchronizedList(new ArrayList<>());
  private final List<Thread> senders = new ArrayList<>();

  ContinuousProbes(List<Path4> paths) {
    for (Path4 p : paths) {
      senders.add(Thread.ofPlatform().start(() -> send(p)));
    }
  }

  private void send(Path4 p) {
    while (!stop.get()) {
      try {
        ProbeResult r =
            ProbeClient.probe(p.fromNetns(), p.ip(), p.port(), p.proto(), Duration.ofSeconds(1));
        sent.incrementAndGet();
        if (!r.connected()) {
          lost.add(p.label() + " " + p.proto() + " " + r.reason());
        }
        Thread.sleep(20);
      } catch (Exception e) {
        lost.add(p.label() + " " + e);
      }
    }
  }

  /** Waits until {@code n} more probes than now have been sent (at most 30 s). */
  void awaitMoreSent(int n) {
    int target = sent.get() + n;
    Tweed.await(n + " more probes", java.time.Duration.ofSeconds(30), () -> sent.get() >= target);
  }

  int sent() {
    return sent.get();
  }

  List<String> lost() {
    synchronized (lost) {
      return List.copyOf(lost);
    }
  }

  /** Stops every sender and waits for its last probe. */
  @Override
  public void close() throws InterruptedException {
    stop.set(true);
    for (Thread t : senders) {
      t.join();
    }
  }
}
