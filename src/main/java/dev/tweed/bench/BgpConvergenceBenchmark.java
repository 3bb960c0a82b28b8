package dev.tweed.bench;

import dev.tweed.calc.BirdConfigRenderer;
import dev.tweed.datastore.Datastore;
import dev.tweed.lab.Lab;
import dev.tweed.lab.LabLayout;
import dev.tweed.lab.LabState;
import dev.tweed.lab.LabStores;
import dev.tweed.model.BgpConfiguration;
import dev.tweed.model.IpFamilies;
import dev.tweed.model.IpFamily;
import dev.tweed.model.NodeResource;
import dev.tweed.sys.Command;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * How long a failed node's routes outlive it, per BGP setting: in a BGP lab, node-3 is stopped (its
 * link goes down first) and started again, and the other nodes are watched until its routes are
 * gone, then back. Settings are applied as the cluster's BGPConfiguration, as a user would. In a
 * dual-stack lab the IPv6 routes (over their own sessions) are timed beside the IPv4 ones, from the
 * same failure.
 */
public final class BgpConvergenceBenchmark {
  private final Lab lab;
  private final PrintStream out;

  public BgpConvergenceBenchmark(Lab lab, PrintStream out) {
    this.lab = lab;
    this.out = out;
  }

  /** One setting's medians over the rounds, in milliseconds; the IPv6 ones 0 in an IPv4 lab. */
  public record Result(
      String setting,
      double withdrawnMs,
      double reconvergedMs,
      double withdrawn6Ms,
      double reconverged6Ms) {}

  /** Read once: the lab's families do not change under the benchmark. */
  private boolean dualStack() {
    if (dualStack == null) {
      dualStack = LabState.read(lab.layout()).orElseThrow().spec().ipFamilies() == IpFamilies.DUAL;
    }
    return dualStack;
  }

  private Boolean dualStack;

  public Result run(String setting, BgpConfiguration bgp, int rounds) throws Exception {
    try (Datastore store = LabStores.open(lab.layout())) {
      store.put(bgp.key().toString(), bgp.toJson());
    }
    awaitApplied(bgp);
    List<IpFamily> families =
        dualStack() ? List.of(IpFamily.IPV4, IpFamily.IPV6) : List.of(IpFamily.IPV4);
    awaitRoutes(true, families, System.nanoTime(), 60_000);
    Map<IpFamily, List<Double>> withdrawn = new EnumMap<>(IpFamily.class);
    Map<IpFamily, List<Double>> back = new EnumMap<>(IpFamily.class);
    for (int i = 0; i < rounds; i++) {
      LabState state = LabState.read(lab.layout()).orElseThrow();
      long t0 = System.nanoTime();
      Thread stopper = Thread.ofPlatform().start(() -> lab.stopNode(state, "node-3"));
      awaitRoutes(false, families, t0, 300_000)
          .forEach((f, ms) -> withdrawn.computeIfAbsent(f, k -> new ArrayList<>()).add(ms));
      stopper.join();
      long t1 = System.nanoTime();
      Thread starter =
          Thread.ofPlatform()
              .start(() -> lab.startNode(LabState.read(lab.layout()).orElseThrow(), "node-3"));
      awaitRoutes(true, families, t1, 300_000)
          .forEach((f, ms) -> back.computeIfAbsent(f, k -> new ArrayList<>()).add(ms));
      starter.join();
      out.printf(
          "  %s, round %d: withdrawn after %.0f ms, back after %.0f ms%s%n",
          setting,
          i + 1,
          withdrawn.get(IpFamily.IPV4).getLast(),
          back.get(IpFamily.IPV4).getLast(),
          families.size() == 2
              ? String.format(
                  "; IPv6 withdrawn after %.0f ms, back after %.0f ms",
                  withdrawn.get(IpFamily.IPV6).getLast(), back.get(IpFamily.IPV6).getLast())
              : "");
    }
    return new Result(
        setting,
        Stats.of(withdrawn.get(IpFamily.IPV4)).median(),
        Stats.of(back.get(IpFamily.IPV4)).median(),
        withdrawn.containsKey(IpFamily.IPV6) ? Stats.of(withdrawn.get(IpFamily.IPV6)).median() : 0,
        back.containsKey(IpFamily.IPV6) ? Stats.of(back.get(IpFamily.IPV6)).median() : 0);
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
        // Two peers, a session each per family.
        long sessions = dualStack() ? 4 : 2;
        if (!conf.contains(marker) || bfd != (bgp.bfdIntervalMs() > 0) || established < sessions) {
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

  /**
   * Waits until node-1 and node-2 both have (or both lack) a route via node-3 in each family;
   * returns, per family, the milliseconds from {@code since} until it got there.
   */
  private Map<IpFamily, Double> awaitRoutes(
      boolean present, List<IpFamily> families, long since, long timeoutMs)
      throws InterruptedException {
    Map<IpFamily, Double> reached = new EnumMap<>(IpFamily.class);
    long deadline = System.nanoTime() + timeoutMs * 1_000_000;
    while (System.nanoTime() < deadline) {
      for (IpFamily f : families) {
        if (reached.containsKey(f)) {
          continue;
        }
        String via =
            "via " + (f == IpFamily.IPV4 ? LabLayout.nodeIp(3) : LabLayout.nodeIp6(3)) + " ";
        boolean all = true;
        for (String n : List.of("node-1", "node-2")) {
          String routes =
              Command.run(
                  List.of(
                      "ip",
                      "-n",
                      lab.layout().nodeNs(n),
                      f == IpFamily.IPV4 ? "-4" : "-6",
                      "route"));
          if (routes.contains(via) != present) {
            all = false;
          }
        }
        if (all) {
          reached.put(f, (System.nanoTime() - since) / 1e6);
        }
      }
      if (reached.size() == families.size()) {
        return reached;
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
