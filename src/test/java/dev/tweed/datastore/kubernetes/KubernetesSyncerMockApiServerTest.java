package dev.tweed.datastore.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.datastore.Datastore;
import dev.tweed.datastore.UpdateMirror;
import dev.tweed.model.Cidr;
import dev.tweed.model.IpamBlock;
import dev.tweed.model.NodeResource;
import dev.tweed.model.WorkloadEndpoint;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The Kubernetes syncer's informers against fabric8's mock API server (CRUD mode). */
class KubernetesSyncerMockApiServerTest {
  private static final List<String> KINDS =
      KubernetesKind.ALL.stream().map(KubernetesKind::kind).toList();
  private MockApiServer api;
  private KubernetesDatastore store;
  private final UpdateMirror mirror = new UpdateMirror();

  @BeforeEach
  void start() throws Exception {
    api = new MockApiServer();
    store = new KubernetesDatastore(api.client());
  }

  @AfterEach
  void stop() {
    api.close();
  }

  private KubernetesSyncer syncer() {
    return new KubernetesSyncer(store, KINDS, mirror);
  }

  private void pod(String name, String app) {
    api.applyPod(name, app, "node-1");
  }

  private void clusterObjects() throws Exception {
    api.createNode("node-1", "192.168.0.11");
    api.createNamespace("default");
    pod("web-1", "web");
    api.createService("web", List.of("10.96.0.10"), 80, 8080);
    api.createSlice("web-abc", "web", "10.244.0.2", "node-1", 8080);
    api.createIsolation("deny", "web");
    IpamBlock b = new IpamBlock(Cidr.parse("10.244.0.0/26"), "node-1", Map.of());
    store.put(b.key().toString(), b.toJson(), Datastore.ABSENT);
  }

  @Test
  void informersFillTheCacheUnderTheSameKeysAsEveryOtherStore() throws Exception {
    clusterObjects();
    try (var syncer = syncer()) {
      syncer.start();
      await().atMost(Duration.ofSeconds(10)).until(syncer::synced);
      Map<String, JsonNode> snap = mirror.snapshot();
      assertThat(snap)
          .containsKeys(
              "Node/node-1",
              "Namespace/default",
              "Pod/default/web-1",
              "Service/default/web",
              "EndpointSlice/default/web-abc",
              "NetworkPolicy/default/deny",
              "IPAMBlock/10-244-0-0-26");
      assertThat(NodeResource.from(snap.get("Node/node-1")).internalIp()).isEqualTo("192.168.0.11");
      assertThat(IpamBlock.from(snap.get("IPAMBlock/10-244-0-0-26")).node()).isEqualTo("node-1");
      assertThat(snap.get("Pod/default/web-1").at("/metadata/labels/app").asText())
          .isEqualTo("web");
    }
  }

  @Test
  void updatesAndDeletesArriveAndMoveTheRevision() throws Exception {
    clusterObjects();
    try (var syncer = syncer()) {
      syncer.start();
      await().atMost(Duration.ofSeconds(10)).until(syncer::synced);
      long before = syncer.revision();
      int batchesBefore = mirror.batches();
      pod("web-1", "api");
      await()
          .atMost(Duration.ofSeconds(10))
          .until(
              () ->
                  mirror
                      .snapshot()
                      .get("Pod/default/web-1")
                      .at("/metadata/labels/app")
                      .asText()
                      .equals("api"));
      assertThat(syncer.revision()).isGreaterThan(before);
      assertThat(mirror.batches()).isGreaterThan(batchesBefore);

      api.client().services().inNamespace("default").withName("web").delete();
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> !mirror.snapshot().containsKey("Service/default/web"));
      assertThat(mirror.inconsistencies()).isEmpty();
    }
  }

  /** A pod route written by a CNI call may not be removed before its endpoint is in the cache. */
  @Test
  void anEndpointWrittenHereCountsAsAChangeUntilTheInformerDeliversIt() throws Exception {
    try (var syncer = syncer()) {
      syncer.start();
      await().atMost(Duration.ofSeconds(10)).until(syncer::synced);
      long rev = syncer.revision();
      assertThat(syncer.unchangedSince(rev)).isTrue();
      var ep =
          new WorkloadEndpoint(
              "node-1",
              "c1",
              "eth0",
              "/run/netns/x",
              "tw1",
              "10.244.0.2",
              "aa:aa:aa:aa:aa:aa",
              "p");
      store.put(ep.key().toString(), ep.toJson(), Datastore.ABSENT);
      assertThat(syncer.unchangedSince(rev)).isFalse();
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> mirror.snapshot().containsKey(ep.key().toString()));
      assertThat(syncer.unchangedSince(syncer.revision())).isTrue();
    }
  }

  /** client-go's reflector lists again when a watch is answered 410 Gone; so must the informers. */
  @Test
  void aWatchExpiredWith410IsFollowedByAFreshListAndTheWatchGoesOn() throws Exception {
    clusterObjects();
    api.expireNextWatches("/api/v1/pods", 2);
    try (var syncer = syncer()) {
      syncer.start();
      await().atMost(Duration.ofSeconds(20)).until(syncer::synced);
      await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> api.goneAnswered() == 2 && api.count("GET /api/v1/pods", true) >= 3);
      // Listed once at start and once after each 410, then watching.
      assertThat(api.count("GET /api/v1/pods", false)).isGreaterThanOrEqualTo(3);
      assertThat(api.count("GET /api/v1/pods", true)).isGreaterThanOrEqualTo(3);
      pod("web-2", "web");
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> mirror.snapshot().containsKey("Pod/default/web-2"));
    }
  }

  @Test
  void closeStopsEveryInformer() throws Exception {
    var syncer = syncer();
    syncer.start();
    await().atMost(Duration.ofSeconds(10)).until(syncer::synced);
    syncer.close();
    assertThat(syncer.synced()).isFalse();
    long watchesBefore = api.count("GET /api/v1/pods", true);
    pod("late", "web");
    // A running informer hands the mock's events on within tens of milliseconds (the other tests
    // here): ten times that without one is "never", and a closed informer opens no new watch.
    Thread.sleep(500);
    assertThat(mirror.snapshot()).doesNotContainKey("Pod/default/late");
    assertThat(api.count("GET /api/v1/pods", true)).isEqualTo(watchesBefore);
  }
}
