package dev.tweed.lab;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.LongPredicate;

/**
 * Starts the lab's daemons (agents, the lab controller) as detached JVMs running this same jar, and
 * ends them by PID, only after checking that the PID is still the process the lab started.
 */
public final class LabProcesses {
  /** The file name of the jar every lab daemon runs (the launcher builds it). */
  private static final String JAR_NAME = "tweed.jar";

  private LabProcesses() {}

  /**
   * How the lab runs its agents (and the DaemonSet's image, {@code deploy/tweed.sh}): the serial
   * collector (one thread, no concurrent phases: the smallest footprint, and the heap grows only as
   * far as the live set needs), a 512 MiB ceiling, and C1 alone: on a 2-core node, C2 compiler
   * threads compete with the CNI calls they would speed up (CNI ADD median 1.29-1.41x the reference
   * plugins with C1, 1.50-1.76x with C2). {@code tweed bench agent} measured 10,000 Services x 10
   * endpoints, 1,000 policies and 1,000 local pods: 128 MiB ran out of heap, 256 MiB programmed
   * them but then spent 56% of a core collecting, 512 MiB used 0.54x the resident memory and 0.56x
   * the CPU of the JVM's defaults (G1, C2, a quarter of memory).
   */
  public static final List<String> AGENT_JVM =
      List.of("-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1");

  /** The java binary and the jar this JVM runs from, with the agents' JVM settings. */
  static List<String> javaCommand() {
    return javaCommand(AGENT_JVM);
  }

  /** The java binary and the jar this JVM runs from, with {@code jvmSettings}. */
  public static List<String> javaCommand(List<String> jvmSettings) {
    try {
      return javaCommand(
          jvmSettings,
          Path.of(LabProcesses.class.getProtectionDomain().getCodeSource().getLocation().toURI()));
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The java binary and {@code tweedJar} (another build, a benchmark's baseline). */
  public static List<String> javaCommand(List<String> jvmSettings, Path tweedJar) {
    String java = ProcessHandle.current().info().command().orElse("java");
    String jar = tweedJar.toAbsolutePath().toString();
    List<String> out =
        new ArrayList<>(
            List.of(
                java,
                "--enable-native-access=ALL-UNNAMED",
                // Netty (under jetcd) still allocates through sun.misc.Unsafe; allowed, no warning.
                "--sun-misc-unsafe-memory-access=allow"));
    out.addAll(jvmSettings);
    // The launcher's class-data archive of Tweed's classes, beside the jar: an agent starts in
    // 0.75x the time and maps the shared classes instead of holding its own copy. A stale archive
    // is ignored by the JVM (silently, with cds logging off).
    Path archive = Path.of(jar).resolveSibling("tweed.jsa");
    if (Files.exists(archive)) {
      out.addAll(
          List.of("-XX:SharedArchiveFile=" + archive, "-Xlog:cds=off", "-Xlog:cds+dynamic=off"));
    }
    // The jar's manifest names the command's main class: the lab does not.
    out.addAll(List.of("-jar", jar));
    return List.copyOf(out);
  }

  /** Starts {@code tweed ARGS...} detached (own session), optionally inside a namespace. */
  public static long startDaemon(Optional<String> netns, List<String> tweedArgs, Path log) {
    List<String> command = new ArrayList<>(javaCommand());
    command.addAll(tweedArgs);
    return startDetached(netns, command, log);
  }

  /**
   * Starts {@code command} detached (own session), optionally inside a namespace; the PID is the
   * command's own, since {@code setsid} and {@code ip netns exec} exec rather than fork.
   */
  public static long startDetached(Optional<String> netns, List<String> command, Path log) {
    List<String> argv = new ArrayList<>(List.of("setsid"));
    netns.ifPresent(ns -> argv.addAll(List.of("ip", "netns", "exec", ns)));
    argv.addAll(command);
    try {
      Files.createDirectories(log.getParent());
      ProcessBuilder pb = new ProcessBuilder(argv);
      pb.redirectErrorStream(true);
      pb.redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
      pb.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
      return pb.start().pid();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start " + String.join(" ", argv), e);
    }
  }

  /**
   * True if {@code pid} is a Tweed daemon of this lab: its argv runs Tweed's jar and holds the
   * exact pair {@code --lab-marker lab=NAME} that only this lab's commands put there. PIDs are
   * recycled; a stranger is never signalled.
   */
  public static boolean isOurs(long pid, String labMarker) {
    return argv(pid).map(argv -> isTweedDaemon(argv, labMarker)).orElse(false);
  }

  /** A process's argv, if it still exists. */
  public static Optional<List<String>> argv(long pid) {
    try {
      byte[] raw = Files.readAllBytes(Path.of("/proc", String.valueOf(pid), "cmdline"));
      return Optional.of(List.of(new String(raw, StandardCharsets.UTF_8).split("\0")));
    } catch (IOException e) {
      return Optional.empty();
    }
  }

  private static boolean isTweedDaemon(List<String> argv, String labMarker) {
    int m = argv.indexOf("--lab-marker");
    // -jar since the jar names its main class; -cp as labs started by earlier versions ran.
    int jar = argv.contains("-jar") ? argv.indexOf("-jar") : argv.indexOf("-cp");
    return jar >= 0
        && jar + 1 < argv.size()
        && argv.get(jar + 1).endsWith("/" + JAR_NAME)
        && m >= 0
        && m + 1 < argv.size()
        && argv.get(m + 1).equals(labMarker);
  }

  /**
   * This lab's daemons that the state file may not list: a {@code lab up} killed between starting a
   * daemon and recording its PID leaves one behind.
   */
  public static List<Long> findUnrecorded(String labMarker) {
    return find(pid -> isOurs(pid, labMarker));
  }

  /** Every process for which {@code ours} holds. */
  public static List<Long> find(LongPredicate ours) {
    List<Long> out = new ArrayList<>();
    try (var dirs = Files.list(Path.of("/proc"))) {
      for (Path d : dirs.toList()) {
        String name = d.getFileName().toString();
        if (name.chars().allMatch(Character::isDigit) && ours.test(Long.parseLong(name))) {
          out.add(Long.parseLong(name));
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list /proc", e);
    }
    return out;
  }

  /** Ends the process: SIGTERM (or SIGKILL when {@code kill}), then waits; SIGKILL after 10 s. */
  public static void stop(long pid, String labMarker, boolean kill) {
    stop(pid, p -> isOurs(p, labMarker), kill);
  }

  /** Ends the process if {@code ours} still recognises it: the same steps as above. */
  public static void stop(long pid, LongPredicate ours, boolean kill) {
    if (!ours.test(pid)) {
      return;
    }
    Optional<ProcessHandle> h = ProcessHandle.of(pid);
    if (h.isEmpty()) {
      return;
    }
    if (kill) {
      h.get().destroyForcibly();
    } else {
      h.get().destroy();
    }
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (isRunning(pid) && System.nanoTime() < deadline) {
      sleep(50);
    }
    if (isRunning(pid)) {
      h.get().destroyForcibly();
      while (isRunning(pid)) {
        sleep(50);
      }
    }
  }

  /** Alive and not a zombie waiting for a parent that may never reap it. */
  public static boolean isRunning(long pid) {
    try {
      String stat = Files.readString(Path.of("/proc", String.valueOf(pid), "stat"));
      return stat.charAt(stat.lastIndexOf(')') + 2) != 'Z';
    } catch (IOException e) {
      return false;
    }
  }

  public static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
