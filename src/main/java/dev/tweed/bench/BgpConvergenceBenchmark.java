package dev.tweed.bench;

import dev.tweed.calc.BirdConfigRenderer;
import dev.tweed.datastore.Datastore;
import dev.tweed.lab.Lab;
import dev.tweed.lab.LabLayout;
import dev.tweed.lab.LabState;
import dev.tweed.lab.LabStores;
import dev.tweed.model.BgpConfiguration;
import dev.tweed.model.NodeResource;
import dev.tweed.sys.Command;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * How long a failed node's routes outlive it, per BGP setting: in a BGP lab, node-3 is stopped (its
 * link goes down first) and started again, and the other nodes are watched until its routes are
 * gone, then back. Settings are applied as the cluster's BGPConfiguration, as a user would.
 */
public final class BgpConvergenceBenchmark {
  private final Lab lab;
  private final PrintStream out;

  public BgpConvergenceBenchmark(Lab lab, PrintStream out) {
    this.lab = lab;
    this.out = out;
  }

  /** One setting's medians over the rounds, in milliseconds. */
  public record Result(String setting, double withdrawnMs, double reconvergedMs) {}

  public Result run(String setting, BgpConfiguration bgp, int rounds) throws Exception {
    try (Datastore store = LabStores.open(lab.layout())) {
      store.put(bgp.key().toString(), bgp.toJson());
    }
    awaitApplied(bgp);
    awaitRoutes(true, 60_000);
    List<Double> withdrawn = new ArrayList<>();
    List<Double> back = new ArrayList<>();
    for (int i = 0; i < rounds; i++) {
      LabState state = LabState.read(lab.layout()).orElseThrow();
      long t0 = System.nanoTime();
      Thread stopper = Thread.ofPlatform().start(() -> lab.stopNode(state, "node-3"));
      awaitRoutes(false, 300_000);
      withdrawn.add((System.nanoTime() - t0) / 1e6);
      stopper.join();
      long t1 = System.nanoTime();
      Thread starter =
          Thread.ofPlatform()
              .start(() -> lab.startNode(LabState.read(lab.layout()).orElseThrow(), "node-3"));
      awaitRoutes(true, 300_000);
      back.add((System.nanoTime() - t1) / 1e6);
      starter.join();
      out.printf(
          "  %s, round %d: withdrawn after %.0f ms, back after %.0f ms%n",
          setting, i + 1, withdrawn.getLast(), back.getLast());
    }
    return new Result(setting, Stats.of(withdrawn).median(), Stats.of(back).median());
  }

  /** Waits until every node's BIRD runs {@code bgp} with every session (and BFD) up. */
  private void awaitApplied(BgpConfiguration bgp) throws Exception {
    String want =
        BirdConfigRenderer.render(
            "node-1", List.of(new NodeResource("node-1", LabLayout.nodeIp(1))), List.of(), bgp);
    String marker =
        want.contains("bfd graceful")
            ? "bfd graceful"
            : want.contains("bfd on") ? "bfd on" : "hold time";
    long deadline = System.nanoTime() + 60_000_000_000L;
    while (System.nanoTime() < deadline) {
      boolean done = true;
      for (int i = 1; i <= 3; i++) {
        String node = LabLayout.nodeName(i);
        Path dir = lab.layout().agentSocket(node).getParent();
        String conf = Files.readString(dir.resolve(node + "-bird.conf"));
        boolean bfd = conf.contains("protocol bfd");
        String protocols =
            Command.exec(
                    List.of(
                        "birdc",
                        "-s",
                        dir.resolve(node + "-bird.ctl").toString(),
                        "show",
                        "protocols"),
                    "",
                    Map.of())
                .stdout();
        long established = protocols.lines().filter(l -> l.contains("Established")).count();
        if (!conf.contains(marker) || bfd != (bgp.bfdIntervalMs() > 0) || established < 2) {
          done = false;
        }
      }
      if (done) {
        Thread.sleep(2000); // BFD sessions come up after BGP's
        return;
      }
      Thread.sleep(100);
    }
    throw new IllegalStateException("BGP settings not applied within 60 s");
  }

  /** Waits until node-1 and node-2 both have (or both lack) a route via node-3. */
  private void awaitRoutes(boolean present, long timeoutMs) throws InterruptedException {
    String via = "via " + LabLayout.nodeIp(3) + " ";
    long deadline = System.nanoTime() + timeoutMs * 1_000_000;
    while (System.nanoTime() < deadline) {
      boolean all = true;
      for (String n : List.of("node-1", "node-2")) {
        String routes = Command.run(List.of("ip", "-n", lab.layout().nodeNs(n), "route"));
        if (routes.contains(via) != present) {
          all = false;
        }
      }
      if (all) {
        return;
      }
      Thread.sleep(10);
    }
    throw new IllegalStateException(
        "routes via node-3 still "
            + (present ? "missing" : "present")
            + " after "
            + timeoutMs
            + " ms");
  }
}
