package dev.tweed.lab;

import dev.tweed.datastore.Datastore;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs a controller's level-triggered pass whenever the watched kinds change, and once a second
 * regardless, so a pass that failed or found work unfinished is retried.
 */
final class ControllerLoop {
  private static final Logger LOG = LoggerFactory.getLogger(ControllerLoop.class);
  private final String name;
  private final Datastore store;
  private final List<String> prefixes;
  private final Runnable pass;
  private final Object wake = new Object();
  private volatile boolean running = true;
  private volatile boolean dirty = true;

  ControllerLoop(String name, Datastore store, List<String> prefixes, Runnable pass) {
    this.name = name;
    this.store = store;
    this.prefixes = List.copyOf(prefixes);
    this.pass = pass;
  }

  void run() {
    List<AutoCloseable> watches = new ArrayList<>();
    long rev = store.currentRevision();
    for (String p : prefixes) {
      watches.add(store.watch(p, rev, ev -> poke()));
    }
    try {
      while (running) {
        dirty = false;
        try {
          pass.run();
        } catch (RuntimeException e) {
          LOG.warn("event=controller-pass-failed controller={} error=\"{}\"", name, e.toString());
        }
        synchronized (wake) {
          if (!dirty && running) {
            wake.wait(1000);
          }
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      for (AutoCloseable w : watches) {
        try {
          w.close();
        } catch (Exception ignored) {
          // Local watches close without failing.
        }
      }
    }
  }

  void poke() {
    dirty = true;
    synchronized (wake) {
      wake.notifyAll();
    }
  }

  void stop() {
    running = false;
    poke();
  }
}
