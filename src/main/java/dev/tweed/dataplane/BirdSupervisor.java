package dev.tweed.dataplane;

import dev.tweed.sys.Command;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
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
  private final Path pidFile;
  private final Path dir;
  private final String node;

  /** The BIRD this supervisor watches: its own child, or one an earlier agent started. */
  private ProcessHandle bird;

  private String applied = "";
  private final AtomicLong restarts = new AtomicLong();

  /** Files live in {@code dir}, named after the node. */
  public BirdSupervisor(Path dir, String node) {
    this.dir = dir;
    this.node = node;
    this.config = dir.resolve(node + "-bird.conf");
    this.control = dir.resolve(node + "-bird.ctl");
    this.log = dir.resolve(node + "-bird.log");
    this.pidFile = dir.resolve(node + "-bird.pid");
  }

  /**
   * Ends a BIRD an earlier agent of this node started and could not stop (it was killed): the PID
   * its file names, if that process is BIRD running this node's configuration.
   */
  public static void stopLeftover(Path dir, String node) {
    BirdSupervisor b = new BirdSupervisor(dir, node);
    try {
      Optional<Long> running = runningPid(dir, node);
      if (running.isPresent()) {
        long pid = running.get();
        ProcessHandle.of(pid)
            .ifPresent(
                h -> {
                  h.destroy();
                  h.onExit().orTimeout(5, TimeUnit.SECONDS).exceptionally(x -> null).join();
                  if (h.isAlive()) {
                    h.destroyForcibly();
                  }
                });
        LOG.info("event=bird-leftover-stopped pid={}", pid);
      }
      Files.deleteIfExists(b.pidFile);
    } catch (IOException e) {
      // the file went with the process: nothing left over
    }
  }

  /**
   * The PID of the BIRD this node's agent started, if its file names one that is still BIRD running
   * this node's configuration.
   */
  public static Optional<Long> runningPid(Path dir, String node) {
    BirdSupervisor b = new BirdSupervisor(dir, node);
    try {
      long pid = Long.parseLong(Files.readString(b.pidFile).strip());
      String cmdline = Files.readString(Path.of("/proc", String.valueOf(pid), "cmdline"));
      return cmdline.startsWith("bird\0") && cmdline.contains(b.config.toString())
          ? Optional.of(pid)
          : Optional.empty();
    } catch (IOException | NumberFormatException e) {
      return Optional.empty();
    }
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
      Files.move(tmp, config, StandardCopyOption.ATOMIC_MOVE);
    }
    if (bird != null && !bird.isAlive()) {
      restarts.incrementAndGet();
      LOG.warn("event=bird-died pid={} restarts={}", bird.pid(), restarts.get());
      bird = null;
    }
    if (bird == null && applied.isEmpty() && adopt()) {
      reconfigure();
    } else if (bird == null) {
      start(restarts.get() > 0);
    } else if (changed) {
      reconfigure();
    }
    applied = conf;
  }

  /**
   * Takes over the BIRD an earlier agent of this node started, if it still runs: an agent that
   * crashed and came back must not take its node's routes down by restarting BIRD (stopping BIRD
   * withdraws them from its peers and, on a clean exit, removes them from the kernel). As with
   * Calico, where BIRD outlives felix, the routing daemon stays; it only reloads.
   */
  private boolean adopt() {
    Optional<ProcessHandle> running = runningPid(dir, node).flatMap(ProcessHandle::of);
    running.ifPresent(
        h -> {
          bird = h;
          LOG.info("event=bird-adopted pid={} config={}", h.pid(), config);
        });
    return running.isPresent();
  }

  /** {@code recovering}: BIRD died; it starts in graceful-restart recovery ({@code -R}). */
  private void start(boolean recovering) throws IOException {
    stopLeftover(config.getParent(), config.getFileName().toString().replace("-bird.conf", ""));
    Files.deleteIfExists(control);
    List<String> argv =
        new ArrayList<>(List.of("bird", "-f", "-c", config.toString(), "-s", control.toString()));
    if (recovering) {
      argv.add("-R");
    }
    bird =
        new ProcessBuilder(argv)
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
            .start()
            .toHandle();
    Files.writeString(pidFile, bird.pid() + "\n");
    LOG.info("event=bird-started pid={} config={}", bird.pid(), config);
  }

  private void reconfigure() {
    Command.Result r =
        Command.exec(List.of("birdc", "-s", control.toString(), "configure"), "", Map.of());
    String out = r.stdout();
    // Accepted: done, in progress, or queued behind a reconfiguration still in progress (BIRD
    // applies the queued one when that ends; a session restart under a graceful-restart recovery
    // can hold one for seconds).
    if (!r.ok()
        || !(out.contains("Reconfigured")
            || out.contains("Reconfiguration in progress")
            || out.contains("queueing new config"))) {
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
      bird.onExit().get(5, TimeUnit.SECONDS);
    } catch (TimeoutException e) {
      bird.destroyForcibly();
      bird.onExit().completeOnTimeout(bird, 5, TimeUnit.SECONDS).join();
    } catch (ExecutionException e) {
      LOG.debug("event=bird-exit-unknown error={}", e.toString());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    LOG.info("event=bird-stopped");
    bird = null;
    try {
      Files.deleteIfExists(pidFile);
    } catch (IOException e) {
      LOG.debug("event=bird-pidfile-kept error={}", e.toString());
    }
  }
}
