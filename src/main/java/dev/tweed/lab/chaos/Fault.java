package dev.tweed.lab.chaos;

import java.util.Optional;

/**
 * One injected fault: what, on which node or member, and when (System.nanoTime) it began, when it
 * was undone (the link up again, the process started again) and when the lab had recovered (agent
 * ready, BIRD's sessions up, etcd healthy, the node's pods answering). {@code node} is the node a
 * link flap took down: only probes that depend on it may be lost, and only until {@code
 * allowedUntilNanos}.
 */
public record Fault(
    FaultKind kind,
    String target,
    long injectedNanos,
    long restoredNanos,
    long recoveredNanos,
    Optional<String> node,
    long allowedUntilNanos) {
  public double downSeconds() {
    return (restoredNanos - injectedNanos) / 1e9;
  }

  public double recoverSeconds() {
    return (recoveredNanos - restoredNanos) / 1e9;
  }
}
