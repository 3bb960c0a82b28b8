package dev.tweed.lab.chaos;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.lab.LabFlows;
import dev.tweed.lab.LabLayout;
import dev.tweed.observe.Flow;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The packets the nodes' datapaths dropped or refused during a soak (the eBPF datapath reports them
 * as flows), gathered from every agent that answers once a second, so that a lost probe is shown
 * with what the datapath did to it, or with proof that it saw nothing. Agents keep their recent
 * flows in a ring; a second's worth is far below its size, so nothing is missed between two reads
 * but what a killed agent held.
 */
final class DropWatch implements AutoCloseable {
  /** More than any soak should see; beyond it the oldest are kept, not the newest. */
  private static final int MAX_DROPS = 20_000;

  private static final LabFlows.Filter EVERYTHING =
      new LabFlows.Filter(
          Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty());

  private final List<LabFlows> perNode = new ArrayList<>();
  private final List<JsonNode> drops = new ArrayList<>();
  private volatile boolean stop;
  private final Thread thread;

  DropWatch(LabLayout layout, int nodes) {
    for (int i = 1; i <= nodes; i++) {
      perNode.add(new LabFlows(layout, List.of(LabLayout.nodeName(i))));
    }
    thread = Thread.ofPlatform().daemon().name("chaos-drops").start(this::run);
  }

  private void run() {
    while (!stop) {
      pollOnce();
      FaultInjector.sleep(1000);
    }
  }

  private void pollOnce() {
    for (LabFlows node : perNode) {
      List<JsonNode> flows;
      try {
        flows = node.poll(EVERYTHING);
      } catch (RuntimeException agentAway) {
        continue; // killed, restarting, or recording no flows: nothing to read there now
      }
      synchronized (drops) {
        for (JsonNode f : flows) {
          if (!f.path("verdict").asText().equals("FORWARDED") && drops.size() < MAX_DROPS) {
            drops.add(f);
          }
        }
      }
    }
  }

  /**
   * The drops that may concern a lost probe, at most {@value #MAX_NEAR}: between its client and the
   * address it probed or one that answers it (a Service's backends), either way, from a second
   * before it started until a second after both its connect and its read could have timed out.
   */
  List<String> near(ProbeMesh.Failure f, Duration probeTimeout) {
    Instant from = f.startedAt().minusSeconds(1);
    Instant to = f.startedAt().plus(probeTimeout.multipliedBy(2)).plusSeconds(1);
    String client = f.path().fromIp();
    Set<String> servers = new HashSet<>(f.path().servers());
    servers.add(f.path().ip());
    List<String> out = new ArrayList<>();
    synchronized (drops) {
      for (JsonNode d : drops) {
        Instant at = Instant.parse(d.path("time").asText());
        String src = d.path("IP").path("source").asText();
        String dst = d.path("IP").path("destination").asText();
        // The probe's own packets, or replies to it; not the server's probes of the client.
        boolean reply = d.path("is_reply").path("value").asBoolean();
        boolean between =
            reply
                ? client.equals(dst) && servers.contains(src)
                : client.equals(src) && servers.contains(dst);
        if (between && !at.isBefore(from) && !at.isAfter(to) && out.size() < MAX_NEAR) {
          out.add(Flow.compact(d));
        }
      }
    }
    return out;
  }

  private static final int MAX_NEAR = 20;

  /** Stops polling after one last read. */
  @Override
  public void close() throws InterruptedException {
    stop = true;
    thread.join();
    pollOnce();
  }
}
