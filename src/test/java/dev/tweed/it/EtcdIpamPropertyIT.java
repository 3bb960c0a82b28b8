package dev.tweed.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tweed.datastore.DatastoreUnavailableException;
import dev.tweed.datastore.EtcdDatastore;
import dev.tweed.ipam.BlockIpam;
import dev.tweed.ipam.IpamPool;
import dev.tweed.lab.EtcdCluster;
import dev.tweed.lab.Namespaces;
import dev.tweed.model.Cidr;
import dev.tweed.model.IpamBlock;
import dev.tweed.model.ResourceKey;
import dev.tweed.sys.NetworkNamespace;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

/**
 * IPAM claims against a real 3-member etcd cluster (three etcd-server processes in a namespace of
 * the test's own, on its loopback): any number of concurrent claimants on any number of nodes, with
 * or without the leader killed halfway, never share an address or a block.
 */
class EtcdIpamPropertyIT {
  static final String NS =
      "tw-ipamprop" + Integer.toString(ThreadLocalRandom.current().nextInt(1 << 20), 36);
  static final Path DIR = Path.of("/run/tweed", NS);
  static EtcdCluster cluster;
  static final Map<String, Long> pids = new ConcurrentHashMap<>();
  static final IpamPool POOL = new IpamPool(Cidr.parse("10.100.0.0/24"), 29);

  @BeforeContainer
  static void startCluster() {
    Namespaces.add(NS);
    Namespaces.batch(NS, List.of("link set lo up"));
    List<EtcdCluster.Member> members = new ArrayList<>();
    for (int i = 1; i <= 3; i++) {
      members.add(
          new EtcdCluster.Member(
              "m" + i, NS, "127.0.0.1", 22369 + 10 * i, 22370 + 10 * i, DIR.resolve("m" + i)));
    }
    cluster = new EtcdCluster(members, NS, DIR.resolve("logs"));
    for (EtcdCluster.Member m : members) {
      pids.put(m.name(), cluster.start(m));
    }
    try (EtcdDatastore store = connect("/")) {
      EtcdCluster.awaitHealthy(store, 3, Duration.ofSeconds(60));
    }
  }

  @AfterContainer
  static void stopCluster() throws Exception {
    try {
      for (EtcdCluster.Member m : cluster.members()) {
        cluster.stop(pids.getOrDefault(m.name(), 0L), m, false);
      }
    } finally {
      Namespaces.delete(NS);
      if (Files.exists(DIR)) {
        try (Stream<Path> walk = Files.walk(DIR)) {
          for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
            Files.deleteIfExists(p);
          }
        }
      }
    }
  }

  static EtcdDatastore connect(String root) {
    return EtcdDatastore.connect(
        cluster.clientUrls(),
        Optional.of(NetworkNamespace.pathOf(NS)),
        Duration.ofSeconds(3),
        root,
        Optional.empty());
  }

  @Property(tries = 10)
  void concurrentClaimantsNeverShareAnAddressOrABlock(
      @ForAll @IntRange(min = 1, max = 3) int nodes,
      @ForAll @IntRange(min = 2, max = 6) int claimantsPerNode,
      @ForAll @IntRange(min = 1, max = 8) int addressesEach,
      @ForAll boolean killLeaderHalfway)
      throws Exception {
    String root = "/ipamprop/" + UUID.randomUUID() + "/";
    List<EtcdDatastore> stores = new ArrayList<>();
    for (int n = 0; n < nodes; n++) {
      stores.add(connect(root)); // one client per node, shared by its CNI calls, as an agent's
    }
    int total = nodes * claimantsPerNode * addressesEach;
    Map<String, String> assigned = new ConcurrentHashMap<>();
    List<String> errors = Collections.synchronizedList(new ArrayList<>());
    AtomicInteger done = new AtomicInteger();
    CountDownLatch go = new CountDownLatch(1);
    List<Thread> threads = new ArrayList<>();
    try {
      for (int n = 0; n < nodes; n++) {
        BlockIpam ipam = new BlockIpam(stores.get(n), POOL, "node-" + n);
        for (int c = 0; c < claimantsPerNode; c++) {
          String claimant = "n" + n + "c" + c;
          threads.add(
              Thread.ofPlatform()
                  .start(
                      () -> {
                        try {
                          go.await();
                          for (int k = 0; k < addressesEach; k++) {
                            String handle = claimant + "-" + k;
                            String prev = assigned.put(handle, assignRetrying(ipam, handle));
                            if (prev != null) {
                              errors.add(handle + " assigned twice");
                            }
                            done.incrementAndGet();
                          }
                        } catch (Exception e) {
                          errors.add(claimant + ": " + e);
                        }
                      }));
        }
      }
      go.countDown();
      String killed = null;
      if (killLeaderHalfway) {
        while (done.get() < total / 2) {
          Thread.sleep(1);
        }
        killed = leader(stores.get(0));
        cluster.stop(pids.remove(killed), cluster.member(killed), true);
      }
      for (Thread t : threads) {
        t.join();
      }
      if (killed != null) {
        pids.put(killed, cluster.start(cluster.member(killed)));
        EtcdCluster.awaitHealthy(stores.get(0), 3, Duration.ofSeconds(60));
      }
      assertThat(errors).isEmpty();
      assertThat(assigned).hasSize(total);
      assertThat(new HashSet<>(assigned.values())).as("distinct addresses").hasSize(total);
      // What the store holds agrees: each handle once, each block one owner, nothing extra.
      Map<String, String> stored = new HashMap<>();
      Set<String> blocks = new HashSet<>();
      for (var e : stores.get(0).list(ResourceKey.kindPrefix(IpamBlock.KIND)).entries()) {
        IpamBlock b = IpamBlock.from(e.value());
        assertThat(blocks.add(b.cidr().toString())).isTrue();
        for (var a : b.allocations().entrySet()) {
          String addr = b.cidr().address(a.getKey()).toString();
          assertThat(stored.put(a.getValue().handle(), addr)).isNull();
        }
      }
      assertThat(stored).isEqualTo(assigned);
    } finally {
      stores.forEach(EtcdDatastore::close);
    }
  }

  /** As a runtime retries "try again later": an assign is idempotent per handle. */
  static String assignRetrying(BlockIpam ipam, String handle) throws Exception {
    for (int attempt = 1; ; attempt++) {
      try {
        return ipam.assign(handle, "pod-" + handle).address();
      } catch (DatastoreUnavailableException e) {
        if (attempt == 10) {
          throw e;
        }
        Thread.sleep(200);
      }
    }
  }

  static String leader(EtcdDatastore store) {
    List<EtcdDatastore.MemberStatus> status = store.memberStatus();
    for (int i = 0; i < status.size(); i++) {
      EtcdDatastore.MemberStatus s = status.get(i);
      if (s.healthy() && s.memberId() == s.leaderId()) {
        return cluster.members().get(i).name();
      }
    }
    throw new AssertionError("no leader: " + status);
  }
}
