package dev.tweed.lab;

import dev.tweed.datastore.Datastore;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs a controller's level-triggered pass whenever the watched kinds change, and once a second
 * regardless, so a pass that failed or found work unfinished is retried. A datastore that does not
 * answer when the loop starts (an etcd cluster still electing its leader) delays the watches, not
 * the controller: they are set up again on every pass until they are.
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
    boolean watching = false;
    try {
      while (running) {
        if (!watching) {
          watching = watch(watches);
        }
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
      close(watches);
    }
  }

  /**
   * Watches every prefix from the current revision; returns whether it could (on failure none is
   * left open, to be tried again).
   */
  private boolean watch(List<AutoCloseable> watches) {
    try {
      long rev = store.currentRevision();
      for (String p : prefixes) {
        watches.add(store.watch(p, rev, ev -> poke()));
      }
      return true;
    } catch (RuntimeException e) {
      close(watches);
      LOG.warn("event=controller-watch-failed controller={} error=\"{}\"", name, e.toString());
      return false;
    }
  }

  private static void close(List<AutoCloseable> watches) {
    for (AutoCloseable w : watches) {
      try {
        w.close();
      } catch (Exception ignored) {
        // A watch that cannot close has nothing left to deliver.
      }
    }
    watches.clear();
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
