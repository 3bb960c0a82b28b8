package dev.tweed.calc;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tweed.model.Cidr;
import dev.tweed.model.IpFamily;
import dev.tweed.model.IpamBlock;
import dev.tweed.model.NodeResource;
import dev.tweed.model.WorkloadEndpoint;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * Routes kept current update by update equal routes computed from scratch: random nodes (coming,
 * going, changing address), blocks (claimed, released, moved between nodes) and endpoints, in the
 * overlay, with BGP and with the eBPF datapath's device, compared after every step.
 */
class RouteResolverTest {
  private static final List<String> NODES = List.of("node-1", "node-2", "node-3", "node-4");

  record Mode(boolean overlay, boolean external, Set<IpFamily> families) {}

  @Test
  void incrementalEqualsFromScratchAfterEveryChange() {
    Set<IpFamily> v4 = Set.of(IpFamily.IPV4);
    Set<IpFamily> dual = Set.of(IpFamily.IPV4, IpFamily.IPV6);
    for (Mode mode :
        List.of(
            new Mode(true, false, v4),
            new Mode(false, false, v4),
            new Mode(true, true, v4),
            new Mode(true, false, dual),
            new Mode(false, false, dual),
            new Mode(true, true, dual),
            new Mode(true, false, Set.of(IpFamily.IPV6)))) {
      for (long seed = 1; seed <= 30; seed++) {
        Random r = new Random(seed);
        RouteResolver inc =
            new RouteResolver("node-1", mode.overlay(), mode.external(), mode.families());
        NodeDataplaneCalculator scratch =
            new NodeDataplaneCalculator("node-1", mode.overlay(), mode.external(), mode.families());
        Map<String, NodeResource> nodes = new TreeMap<>();
        Map<String, IpamBlock> blocks = new TreeMap<>();
        Map<String, WorkloadEndpoint> endpoints = new TreeMap<>();
        for (int step = 0; step < 80; step++) {
          switch (r.nextInt(4)) {
            case 0 -> {
              String name = NODES.get(r.nextInt(NODES.size()));
              if (r.nextInt(5) == 0) {
                nodes.remove(name);
                inc.node(name, Optional.empty());
              } else {
                // Single-stack IPv4 or IPv6 and dual-stack nodes, as a mixed underlay has them.
                String v4ip = "172.31.0." + (10 + r.nextInt(20));
                String v6ip = "fd00:172:31::" + (10 + r.nextInt(20));
                NodeResource n =
                    switch (r.nextInt(3)) {
                      case 0 -> new NodeResource(name, v4ip);
                      case 1 -> new NodeResource(name, v6ip);
                      default -> new NodeResource(name, List.of(v4ip, v6ip));
                    };
                nodes.put(name, n);
                inc.node(name, Optional.of(n));
              }
            }
            case 1 -> {
              int i = r.nextInt(12);
              Cidr cidr =
                  i < 4
                      ? Cidr.parse("10.244.0." + (i * 64) + "/26")
                      : i < 8
                          ? Cidr.parse("10.244.1." + ((i - 4) * 64) + "/26")
                          : Cidr.parse("fd00:10:244::" + ((i - 8) * 40) + "/122");
              String key = "IPAMBlock/b" + i;
              if (r.nextInt(4) == 0) {
                blocks.remove(key);
                inc.block(key, Optional.empty());
              } else {
                IpamBlock b = new IpamBlock(cidr, NODES.get(r.nextInt(NODES.size())), Map.of());
                blocks.put(key, b);
                inc.block(key, Optional.of(b));
              }
            }
            default -> {
              String key = "WorkloadEndpoint/e" + r.nextInt(10);
              if (r.nextInt(4) == 0) {
                endpoints.remove(key);
                inc.endpoint(key, Optional.empty());
              } else {
                WorkloadEndpoint w =
                    new WorkloadEndpoint(
                        NODES.get(r.nextInt(2)),
                        "c" + r.nextInt(100),
                        "eth0",
                        "/var/run/netns/x",
                        "tw" + r.nextInt(5),
                        r.nextBoolean()
                            ? List.of("10.244.2." + r.nextInt(20))
                            : List.of(
                                "10.244.2." + r.nextInt(20), "fd00:10:244:2::" + r.nextInt(20)),
                        "aa:bb:cc:dd:ee:0" + r.nextInt(10),
                        "default/p" + r.nextInt(10));
                endpoints.put(key, w);
                inc.endpoint(key, Optional.of(w));
              }
            }
          }
          var expected =
              scratch.calculate(
                  new ClusterState(
                      List.copyOf(nodes.values()),
                      List.copyOf(blocks.values()),
                      List.copyOf(endpoints.values())));
          assertThat(inc.dataplane())
              .as("%s seed %d step %d", mode, seed, step)
              .isEqualTo(expected);
        }
      }
    }
  }
}
