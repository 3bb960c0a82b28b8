package dev.tweed.bench;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tweed.agent.NodeAgent;
import dev.tweed.cni.AgentClient;
import dev.tweed.datastore.Datastore;
import dev.tweed.datastore.Syncer;
import dev.tweed.datastore.backends.Backends;
import dev.tweed.lab.EtcdPki;
import dev.tweed.lab.Lab;
import dev.tweed.lab.LabLayout;
import dev.tweed.lab.LabState;
import dev.tweed.lab.LabStores;
import dev.tweed.model.Json;
import dev.tweed.sys.Command;
import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * How long an EndpointSlice change written to etcd takes to reach the nodes. In an etcd lab: until
 * every node's agent has programmed it into its kernel (the agent reports the datastore revision
 * its proxy rules reflect). Then the watch fan-out alone: N simulated agents, each with its own
 * etcd client and the agent's syncer over the agent's kinds, timed until each has the change in its
 * cache. The ratio of 100 to 3 simulated agents is the figure that says when a fan-out cache
 * (Typha's job) is worth its place.
 */
public final class EndpointPropagationBenchmark {
  static final String SERVICE = "Service/default/bench-web";
  static final String SLICE = "EndpointSlice/default/bench-web-1";
  private final Lab lab;
  private final PrintStream out;

  public EndpointPropagationBenchmark(Lab lab, PrintStream out) {
    this.lab = lab;
    this.out = out;
  }

  /** Per-receiver latencies and, per round, the latency until the last receiver had it (ms). */
  public record Result(String what, Stats perReceiver, Stats allReceivers) {}

  private static ObjectNode service() {
    return (ObjectNode)
        Json.parse(
            """
            {"apiVersion": "v1", "kind": "Service",
             "metadata": {"name": "bench-web", "namespace": "default"},
             "spec": {"clusterIP": "10.96.0.200",
                      "ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080}]}}
            """);
  }

  /** Round {@code i}'s slice: one endpoint whose address names the round. */
  static ObjectNode slice(int round) {
    String ip = "10.244.%d.%d".formatted(200 + round / 250, 1 + round % 250);
    return (ObjectNode)
        Json.parse(
            """
            {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
             "metadata": {"name": "bench-web-1", "namespace": "default",
                          "labels": {"kubernetes.io/service-name": "bench-web"}},
             "addressType": "IPv4",
             "endpoints": [{"addresses": ["%s"], "conditions": {"ready": true}}],
             "ports": [{"name": "http", "protocol": "TCP", "port": 8080}]}
            """
                .formatted(ip));
  }

  static String addressOf(int round) {
    return slice(round).path("endpoints").get(0).path("addresses").get(0).asText();
  }

  /** Every node of the lab: from the write until its kernel has the change. */
  public Result kernels(int rounds) throws Exception {
    LabState state = LabState.read(lab.layout()).orElseThrow();
    List<String> nodes = new ArrayList<>();
    for (int i = 1; i <= state.spec().nodes(); i++) {
      nodes.add(LabLayout.nodeName(i));
    }
    List<Double> each = new ArrayList<>();
    List<Double> all = new ArrayList<>();
    try (Datastore store = LabStores.open(lab.layout(), state)) {
      store.put(SERVICE, service());
      long rev = store.put(SLICE, slice(0));
      awaitKernels(nodes, rev, System.nanoTime(), new ArrayList<>());
      for (int r = 1; r <= rounds; r++) {
        Thread.sleep(200);
        long t0 = System.nanoTime();
        long written = store.put(SLICE, slice(r));
        List<Double> round = new ArrayList<>();
        awaitKernels(nodes, written, t0, round);
        each.addAll(round);
        all.add(round.stream().mapToDouble(Double::doubleValue).max().orElseThrow());
      }
    }
    // The revision the agents report is the one their rules were written from: check the rules.
    String last = addressOf(rounds);
    for (String node : nodes) {
      String rules =
          Command.run(List.of("ip", "netns", "exec", lab.layout().nodeNs(node), "iptables-save"));
      if (!rules.contains(last + ":8080")) {
        throw new IllegalStateException(node + "'s rules lack the last endpoint " + last);
      }
    }
    return new Result(
        state.spec().nodes() + " nodes' kernels (real agents)", Stats.of(each), Stats.of(all));
  }

  private void awaitKernels(List<String> nodes, long revision, long t0, List<Double> latencies)
      throws IOException, InterruptedException {
    boolean[] done = new boolean[nodes.size()];
    int left = nodes.size();
    long deadline = t0 + 60_000_000_000L;
    while (left > 0) {
      for (int i = 0; i < nodes.size(); i++) {
        if (done[i]) {
          continue;
        }
        var health = Json.parse(AgentClient.health(lab.layout().agentSocket(nodes.get(i))));
        if (health.path("proxyRevision").asLong() >= revision) {
          done[i] = true;
          left--;
          latencies.add((System.nanoTime() - t0) / 1e6);
        }
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("the change did not reach every node in 60 s");
      }
      Thread.sleep(2);
    }
  }

  /** {@code agents} simulated agents, each its own etcd client and syncer. */
  public Result watchers(int agents, int rounds) throws Exception {
    LabState state = LabState.read(lab.layout()).orElseThrow();
    List<Datastore> clients = new ArrayList<>();
    List<Syncer> syncers = new ArrayList<>();
    // Each cache change, as (revision, time): a change is timed when it arrived, not when seen.
    List<ConcurrentLinkedQueue<long[]>> arrivals = new ArrayList<>();
    List<Double> each = new ArrayList<>();
    List<Double> all = new ArrayList<>();
    try (Datastore writer = LabStores.open(lab.layout(), state)) {
      for (int a = 0; a < agents; a++) {
        // Each watcher is an agent: the node's etcd user, as the lab's agents log in.
        Datastore client = LabStores.etcdAs(lab.layout(), state, EtcdPki.NODE);
        clients.add(client);
        var log = new ConcurrentLinkedQueue<long[]>();
        arrivals.add(log);
        Syncer syncer =
            Backends.syncer(
                client,
                NodeAgent.FOLLOWED_KINDS,
                batch -> {
                  if (!batch.updates().isEmpty()) {
                    log.add(new long[] {batch.revision(), System.nanoTime()});
                  }
                });
        syncers.add(syncer);
        syncer.start();
      }
      for (int r = 1; r <= rounds; r++) {
        Thread.sleep(200);
        arrivals.forEach(ConcurrentLinkedQueue::clear);
        long t0 = System.nanoTime();
        long written = writer.put(SLICE, slice(1000 + r));
        long deadline = t0 + 60_000_000_000L;
        List<Double> round = new ArrayList<>();
        for (int a = 0; a < agents; a++) {
          OptionalLong at = OptionalLong.empty();
          while (at.isEmpty()) {
            at = arrivals.get(a).stream().filter(e -> e[0] >= written).mapToLong(e -> e[1]).min();
            if (System.nanoTime() > deadline) {
              throw new IllegalStateException("simulated agent " + a + " missed the change");
            }
            if (at.isEmpty()) {
              Thread.sleep(1);
            }
          }
          round.add((at.getAsLong() - t0) / 1e6);
        }
        each.addAll(round);
        all.add(round.stream().mapToDouble(Double::doubleValue).max().orElseThrow());
      }
    } finally {
      for (Syncer s : syncers) {
        s.close();
      }
      for (Datastore c : clients) {
        c.close();
      }
    }
    return new Result(agents + " simulated agents' caches", Stats.of(each), Stats.of(all));
  }
}
