package dev.tweed.lab.chaos;

import dev.tweed.dataplane.BirdSupervisor;
import dev.tweed.datastore.EtcdDatastore;
import dev.tweed.lab.EtcdCluster;
import dev.tweed.lab.EtcdPki;
import dev.tweed.lab.Lab;
import dev.tweed.lab.LabLayout;
import dev.tweed.lab.LabProcesses;
import dev.tweed.lab.LabState;
import dev.tweed.lab.LabStores;
import dev.tweed.lab.Namespaces;
import dev.tweed.lab.ProbeClient;
import dev.tweed.model.Json;
import dev.tweed.observe.BgpSessions;
import dev.tweed.sys.NetworkNamespace;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;

/**
 * Injects one fault and undoes it as the cluster's own supervisors would (systemd starting a killed
 * agent again, etcd members restarted, a link back up), then waits until the lab has recovered.
 * Processes are only ever signalled after they are recognised as this lab's.
 */
final class FaultInjector {
  private static final long RECOVERY_LIMIT = 60_000_000_000L;
  private final Lab lab;
  private final LabLayout layout;
  private final Random random;
  private final List<PodTarget> pods;
  private final Duration allowance;

  /**
   * @param allowance how long after a flapped link is up again its node's paths may still fail:
   *     neighbour and route relearning (and for BGP, BFD's detection and the withdrawal)
   */
  FaultInjector(Lab lab, Random random, List<PodTarget> pods, Duration allowance) {
    this.lab = lab;
    this.layout = lab.layout();
    this.random = random;
    this.pods = List.copyOf(pods);
    this.allowance = allowance;
  }

  Fault inject(FaultKind kind) {
    LabState state = state();
    String node = LabLayout.nodeName(1 + random.nextInt(state.spec().nodes()));
    return switch (kind) {
      case AGENT_KILL -> killAgent(state, node);
      case BIRD_KILL -> killBird(node);
      case ETCD_KILL -> killEtcdMember(state);
      case LINK_FLAP -> flapLink(node);
      case STORE_OUTAGE -> storeOutage(state);
    };
  }

  private LabState state() {
    return LabState.read(layout).orElseThrow(() -> new IllegalStateException("the lab is gone"));
  }

  private Fault killAgent(LabState state, String node) {
    long pid = state.pids().getOrDefault("agent/" + node, 0L);
    long injected = System.nanoTime();
    LabProcesses.stop(pid, "lab=" + layout.name(), true);
    // A supervisor's restart delay (systemd's RestartSec), during which nothing programs the node.
    sleep(1000);
    lab.startAgent(state(), node);
    long restored = System.nanoTime();
    lab.awaitAgentReady(node, restored + RECOVERY_LIMIT);
    return done(FaultKind.AGENT_KILL, node + " (pid " + pid + ")", injected, restored);
  }

  private Fault killBird(String node) {
    Path dir = layout.agentSocket(node).getParent();
    long pid =
        BirdSupervisor.runningPid(dir, node)
            .orElseThrow(() -> new IllegalStateException("no BIRD running on " + node));
    long injected = System.nanoTime();
    ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
    // The agent's supervisor notices and starts BIRD again in graceful-restart recovery.
    long deadline = injected + RECOVERY_LIMIT;
    while (BirdSupervisor.runningPid(dir, node).filter(p -> p != pid).isEmpty()) {
      checkDeadline(deadline, "BIRD on " + node + " was not started again");
      sleep(50);
    }
    long restored = System.nanoTime();
    Path control = new BirdSupervisor(dir, node).control();
    while (!allEstablished(BgpSessions.read(control))) {
      checkDeadline(deadline, "BIRD on " + node + " did not establish its sessions again");
      sleep(100);
    }
    return done(FaultKind.BIRD_KILL, node + " (pid " + pid + ")", injected, restored);
  }

  private static boolean allEstablished(Map<String, Long> sessionsByState) {
    long up = sessionsByState.getOrDefault("Established", 0L);
    long all = sessionsByState.values().stream().mapToLong(Long::longValue).sum();
    return all > 0 && up == all;
  }

  private Fault killEtcdMember(LabState state) {
    String member = LabLayout.etcdMemberName(1 + random.nextInt(state.spec().etcdMembers()));
    long injected = System.nanoTime();
    lab.stopEtcdMember(state, member, true);
    sleep(2000 + random.nextInt(2000));
    lab.startEtcdMember(state(), member);
    long restored = System.nanoTime();
    awaitEtcdHealthy();
    return done(FaultKind.ETCD_KILL, member, injected, restored);
  }

  private Fault storeOutage(LabState state) {
    long injected = System.nanoTime();
    for (int i = 1; i <= state.spec().etcdMembers(); i++) {
      lab.stopEtcdMember(state(), LabLayout.etcdMemberName(i), true);
    }
    sleep(3000 + random.nextInt(3000));
    for (int i = 1; i <= state.spec().etcdMembers(); i++) {
      lab.startEtcdMember(state(), LabLayout.etcdMemberName(i));
    }
    long restored = System.nanoTime();
    awaitEtcdHealthy();
    long deadline = restored + RECOVERY_LIMIT;
    for (int i = 1; i <= state.spec().nodes(); i++) {
      String node = LabLayout.nodeName(i);
      while (!lab.agentHealth(node)
          .map(h -> Json.parse(h).path("datastoreReachable").asBoolean())
          .orElse(false)) {
        checkDeadline(deadline, "the agent on " + node + " did not reach the store again");
        sleep(100);
      }
    }
    return done(
        FaultKind.STORE_OUTAGE,
        "all " + state.spec().etcdMembers() + " members",
        injected,
        restored);
  }

  private void awaitEtcdHealthy() {
    LabState state = state();
    try (EtcdDatastore store = LabStores.etcdAs(layout, state, EtcdPki.CONTROLLER)) {
      EtcdCluster.awaitHealthy(store, state.spec().etcdMembers(), Duration.ofSeconds(60));
    }
  }

  private Fault flapLink(String node) {
    long injected = System.nanoTime();
    Namespaces.batch(layout.nodeNs(node), List.of("link set eth0 down"));
    sleep(2000 + random.nextInt(3000));
    Namespaces.batch(layout.nodeNs(node), LabLayout.linkBackUp(node, state().spec().ipFamilies()));
    long restored = System.nanoTime();
    long deadline = restored + RECOVERY_LIMIT;
    while (!nodeAnswers(node)) {
      checkDeadline(deadline, node + "'s pods did not answer again after its link came back");
      sleep(100);
    }
    long recovered = System.nanoTime();
    return new Fault(
        FaultKind.LINK_FLAP,
        node,
        injected,
        restored,
        recovered,
        Optional.of(node),
        restored + allowance.toNanos());
  }

  /** A pod on another node reaches a pod on {@code node}, and back (true when there are none). */
  private boolean nodeAnswers(String node) {
    Optional<PodTarget> here = pods.stream().filter(p -> p.node().equals(node)).findFirst();
    Optional<PodTarget> there = pods.stream().filter(p -> !p.node().equals(node)).findFirst();
    if (here.isEmpty() || there.isEmpty()) {
      return true;
    }
    return reaches(there.get(), here.get()) && reaches(here.get(), there.get());
  }

  private static boolean reaches(PodTarget from, PodTarget to) {
    try {
      return ProbeClient.probe(
              NetworkNamespace.pathOf(from.netns()),
              to.ip(),
              to.port(),
              "tcp",
              Duration.ofMillis(500))
          .connected();
    } catch (Exception e) {
      return false;
    }
  }

  private static Fault done(FaultKind kind, String target, long injected, long restored) {
    long recovered = System.nanoTime();
    return new Fault(kind, target, injected, restored, recovered, Optional.empty(), recovered);
  }

  private static void checkDeadline(long deadline, String what) {
    if (System.nanoTime() > deadline) {
      throw new IllegalStateException(what + " within 60 s");
    }
  }

  static void sleep(long ms) {
    LabProcesses.sleep(ms);
  }
}
