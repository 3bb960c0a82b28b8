package dev.tweed.dataplane;

import dev.tweed.sys.Command;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the BIRD daemon as the agent's child, in the agent's network namespace, the way calico-node
 * runs it under runit: started with the rendered configuration, reloaded ({@code birdc configure})
 * only when the configuration changes, started again if it dies, and stopped with the agent. BIRD
 * runs in the foreground ({@code -f}), so it is this process's child and never orphaned.
 */
public final class BirdSupervisor implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(BirdSupervisor.class);
  private final Path config;
  private final Path control;
  private final Path log;
  private Process bird;
  private String applied = "";
  private final AtomicLong restarts = new AtomicLong();

  /** Files live in {@code dir}, named after the node. */
  public BirdSupervisor(Path dir, String node) {
    this.config = dir.resolve(node + "-bird.conf");
    this.control = dir.resolve(node + "-bird.ctl");
    this.log = dir.resolve(node + "-bird.log");
  }

  public Path control() {
    return control;
  }

  /** How often BIRD was found dead and started again. */
  public long restarts() {
    return restarts.get();
  }

  public synchronized boolean running() {
    return bird != null && bird.isAlive();
  }

  /**
   * Makes BIRD run {@code conf}: writes it, starts BIRD if it is not running (again, if it died),
   * or asks the running one to reload when the text changed.
   */
  public synchronized void apply(String conf) throws IOException {
    boolean changed = !conf.equals(applied);
    if (changed) {
      Path tmp = config.resolveSibling(config.getFileName() + ".tmp");
      Files.writeString(tmp, conf);
      Files.move(tmp, config, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }
    if (bird != null && !bird.isAlive()) {
      restarts.incrementAndGet();
      LOG.warn("event=bird-died exit={} restarts={}", bird.exitValue(), restarts.get());
      bird = null;
    }
    if (bird == null) {
      start();
    } else if (changed) {
      reconfigure();
    }
    applied = conf;
  }

  private void start() throws IOException {
    Files.deleteIfExists(control);
    bird =
        new ProcessBuilder("bird", "-f", "-c", config.toString(), "-s", control.toString())
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
            .start();
    LOG.info("event=bird-started pid={} config={}", bird.pid(), config);
  }

  private void reconfigure() {
    Command.Result r =
        Command.exec(List.of("birdc", "-s", control.toString(), "configure"), "", Map.of());
    String out = r.stdout();
    if (!r.ok() || !(out.contains("Reconfigured") || out.contains("Reconfiguration in progress"))) {
      // BIRD keeps its old configuration when the new one does not parse: say so, loudly.
      throw new IllegalStateException(
          "birdc configure failed: " + (out + " " + r.stderr()).strip().replace('\n', ' '));
    }
    LOG.info("event=bird-reconfigured config={}", config);
  }

  /** Stops BIRD (SIGTERM, then SIGKILL after 5 s) and waits for it. */
  @Override
  public synchronized void close() {
    if (bird == null) {
      return;
    }
    bird.destroy();
    try {
      if (!bird.waitFor(5, TimeUnit.SECONDS)) {
        bird.destroyForcibly();
        bird.waitFor(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    LOG.info("event=bird-stopped");
    bird = null;
  }
}
