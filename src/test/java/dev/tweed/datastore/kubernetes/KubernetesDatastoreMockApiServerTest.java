package dev.tweed.datastore.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tweed.datastore.ConflictException;
import dev.tweed.datastore.Datastore;
import dev.tweed.datastore.Event;
import dev.tweed.datastore.WatchBrokenException;
import dev.tweed.ipam.BlockIpam;
import dev.tweed.ipam.IpamPool;
import dev.tweed.model.Cidr;
import dev.tweed.model.IpamBlock;
import dev.tweed.model.WorkloadEndpoint;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The Kubernetes datastore's compare-and-swap, against fabric8's mock API server (CRUD mode). */
class KubernetesDatastoreMockApiServerTest {
  private MockApiServer api;
  private KubernetesDatastore store;

  @BeforeEach
  void start() throws Exception {
    api = new MockApiServer();
    store = new KubernetesDatastore(api.client());
  }

  @AfterEach
  void stop() {
    api.close();
  }

  private static IpamBlock block(String node) {
    return new IpamBlock(Cidr.parse("10.244.0.64/26"), node, Map.of());
  }

  @Test
  void writesAreCustomResourcesGuardedByTheirResourceVersion() throws Exception {
    IpamBlock b = block("node-1");
    String key = b.key().toString();
    long created = store.put(key, b.toJson(), Datastore.ABSENT);
    assertThat(created).isPositive();

    // The object is a real IPAMBlock in the tweed.dev group, as kubectl would see it.
    var cr =
        api.client()
            .genericKubernetesResources(KubernetesKind.require("IPAMBlock").context())
            .withName(IpamBlock.nameOf(b.cidr()))
            .get();
    assertThat(cr.getApiVersion()).isEqualTo("tweed.dev/v1");
    assertThat(cr.getAdditionalProperties()).containsKey("spec");

    assertThatThrownBy(() -> store.put(key, b.toJson(), Datastore.ABSENT))
        .as("a second create of the same block")
        .isInstanceOf(ConflictException.class);

    IpamBlock taken = b.with(1, new IpamBlock.Allocation("net.c1.eth0", "ns/p1"));
    long updated = store.put(key, taken.toJson(), created);
    assertThat(updated).isNotEqualTo(created);
    assertThatThrownBy(
            () ->
                store.put(
                    key,
                    b.with(1, new IpamBlock.Allocation("net.c2.eth0", "ns/p2")).toJson(),
                    created))
        .as("an update from the stale revision")
        .isInstanceOf(ConflictException.class);

    var read = store.get(key).orElseThrow();
    assertThat(read.key()).isEqualTo(key);
    assertThat(read.modRevision()).isEqualTo(updated);
    assertThat(IpamBlock.from(read.value())).isEqualTo(taken);

    assertThatThrownBy(() -> store.delete(key, created)).isInstanceOf(ConflictException.class);
    store.delete(key, updated);
    assertThat(store.get(key)).isEmpty();
  }

  @Test
  void listsByKeyPrefix() throws Exception {
    for (String node : List.of("node-1", "node-1", "node-2")) {
      var ep =
          new WorkloadEndpoint(
              node,
              "c" + System.nanoTime(),
              "eth0",
              "/run/netns/x",
              "tw123",
              "10.244.0.2",
              "aa:bb:cc:dd:ee:ff",
              "default/p");
      store.put(ep.key().toString(), ep.toJson(), Datastore.ABSENT);
    }
    var mine = store.list("WorkloadEndpoint/node-1.");
    assertThat(mine.entries()).hasSize(2);
    assertThat(mine.entries()).allMatch(e -> e.key().startsWith("WorkloadEndpoint/node-1."));
    assertThat(mine.revision()).isPositive();
    assertThat(store.list("IPAMBlock/").entries()).isEmpty();
  }

  @Test
  void aWatchDeliversChangesAndReportsA410AsCompacted() throws Exception {
    var events = new LinkedBlockingQueue<Event>();
    var broken = new LinkedBlockingQueue<WatchBrokenException>();
    long from = store.currentRevision();
    try (var w = store.watch("IPAMBlock/", from, events::addAll, broken::add)) {
      IpamBlock b = block("node-1");
      long rev = store.put(b.key().toString(), b.toJson(), Datastore.ABSENT);
      var ev = events.poll(10, TimeUnit.SECONDS);
      assertThat(ev).isNotNull();
      assertThat(ev.type()).isEqualTo(Event.Type.PUT);
      assertThat(ev.entry().key()).isEqualTo(b.key().toString());
      assertThat(ev.revision()).isEqualTo(rev);
    }
    api.expireNextWatches("/apis/tweed.dev/v1/ipamblocks", 1);
    try (var w = store.watch("IPAMBlock/", from, events::addAll, broken::add)) {
      var gone = broken.poll(10, TimeUnit.SECONDS);
      assertThat(gone).isNotNull();
      assertThat(gone.compacted()).isTrue();
    }
  }

  /** Block IPAM's claims through the API: concurrent claimants on two nodes never share. */
  @Test
  void concurrentClaimantsNeverShareABlockOrAnAddress() throws Exception {
    IpamPool pool = new IpamPool(Cidr.parse("10.244.0.0/24"), 28);
    ExecutorService threads = Executors.newFixedThreadPool(6);
    try {
      List<Future<BlockIpam.Assignment>> all = new ArrayList<>();
      for (int i = 0; i < 36; i++) {
        String node = "node-" + (i % 3);
        String handle = "net.c" + i + ".eth0";
        all.add(threads.submit(() -> new BlockIpam(store, pool, node).assign(handle, "ns/p")));
      }
      Set<String> addresses = new HashSet<>();
      for (var f : all) {
        addresses.add(f.get().address());
      }
      assertThat(addresses).hasSize(36);
    } finally {
      threads.shutdownNow();
    }
    Map<String, String> ownerOfBlock = new HashMap<>();
    for (var e : store.list("IPAMBlock/").entries()) {
      IpamBlock b = IpamBlock.from(e.value());
      assertThat(ownerOfBlock.put(b.cidr().toString(), b.node())).isNull();
    }
    // Two claimants of one node may both find no room and claim a block each (as Calico's may);
    // what never happens is one block with two owners, checked above.
    assertThat(new HashSet<>(ownerOfBlock.values()))
        .containsExactlyInAnyOrder("node-0", "node-1", "node-2");
  }
}
