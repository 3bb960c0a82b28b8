package dev.tweed.datastore.kubernetes;

import dev.tweed.datastore.Entry;
import dev.tweed.datastore.ResourceUpdate;
import dev.tweed.datastore.Syncer;
import dev.tweed.datastore.UpdateBatch;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Follows an API server with one list+watch informer per kind, as client-go's shared informers do:
 * typed informers for the built-in kinds, informers of the generic (dynamic) client for Tweed's
 * custom resources. fabric8's reflector resumes a watch from its last resourceVersion and lists
 * again when the server answers 410 Gone; an informer whose list fails keeps retrying (the
 * exception handler says so), so an unreachable API server leaves the cache, and the dataplane
 * built from it, as it was.
 */
public final class KubernetesSyncer implements Syncer {
  private static final Logger LOG = LoggerFactory.getLogger(KubernetesSyncer.class);

  /** client-go's informers resync on a period too; the agent's own loop repairs drift sooner. */
  public static final Duration RESYNC = Duration.ofMinutes(10);

  private final KubernetesDatastore datastore;
  private final List<KubernetesKind> kinds;
  private final Consumer<UpdateBatch> listener;
  private final Duration resync;
  private final Map<String, Entry> cache = new HashMap<>();
  private final AtomicLong revision = new AtomicLong();

  /**
   * The newest workload endpoint resourceVersion seen: tells whether this agent's writes are in.
   */
  private final AtomicLong seenEndpointRevision = new AtomicLong();

  private final List<SharedIndexInformer<? extends HasMetadata>> informers = new ArrayList<>();

  public KubernetesSyncer(
      KubernetesDatastore datastore,
      List<String> kindNames,
      Consumer<UpdateBatch> listener,
      Duration resync) {
    this.datastore = datastore;
    this.kinds = kindNames.stream().map(KubernetesKind::require).toList();
    this.listener = listener;
    this.resync = resync;
  }

  public KubernetesSyncer(
      KubernetesDatastore datastore, List<String> kindNames, Consumer<UpdateBatch> listener) {
    this(datastore, kindNames, listener, RESYNC);
  }

  @Override
  public synchronized void start() {
    for (KubernetesKind k : kinds) {
      SharedIndexInformer<? extends HasMetadata> informer = informerOf(k);
      informers.add(informer);
      informer.start();
    }
  }

  private SharedIndexInformer<? extends HasMetadata> informerOf(KubernetesKind k) {
    KubernetesClient c = datastore.client();
    long resyncMillis = resync.toMillis();
    SharedIndexInformer<? extends HasMetadata> informer =
        switch (k.kind()) {
          case "Node" -> c.nodes().runnableInformer(resyncMillis);
          case "Namespace" -> c.namespaces().runnableInformer(resyncMillis);
          case "Pod" -> c.pods().inAnyNamespace().runnableInformer(resyncMillis);
          case "Service" -> c.services().inAnyNamespace().runnableInformer(resyncMillis);
          case "EndpointSlice" ->
              c.discovery().v1().endpointSlices().inAnyNamespace().runnableInformer(resyncMillis);
          case "NetworkPolicy" ->
              c.network().v1().networkPolicies().inAnyNamespace().runnableInformer(resyncMillis);
          default ->
              c.genericKubernetesResources(k.context())
                  .inAnyNamespace()
                  .runnableInformer(resyncMillis);
        };
    informer.exceptionHandler(
        (started, t) -> {
          // client-go's reflector retries forever with backoff; so does this.
          LOG.warn(
              "event=informer-error kind={} started={} error=\"{}\"",
              k.kind(),
              started,
              t.getMessage());
          return true;
        });
    informer.addEventHandler(new Handler(k));
    return informer;
  }

  private final class Handler implements ResourceEventHandler<HasMetadata> {
    private final KubernetesKind kind;

    Handler(KubernetesKind kind) {
      this.kind = kind;
    }

    @Override
    public void onAdd(HasMetadata obj) {
      put(kind, obj);
    }

    @Override
    public void onUpdate(HasMetadata old, HasMetadata obj) {
      put(kind, obj);
    }

    @Override
    public void onDelete(HasMetadata obj, boolean finalStateUnknown) {
      remove(kind, obj);
    }
  }

  private void put(KubernetesKind k, HasMetadata obj) {
    Entry e = KubernetesDatastore.entry(k, obj);
    synchronized (this) {
      Entry old = cache.put(e.key(), e);
      if (isEndpoint(k)) {
        seenEndpointRevision.accumulateAndGet(e.modRevision(), Math::max);
      }
      // A resync hands every object again at the same resourceVersion: that is no new input.
      if (old != null && old.modRevision() == e.modRevision()) {
        return;
      }
      emit(e.key(), Optional.ofNullable(old), Optional.of(e));
    }
  }

  private void remove(KubernetesKind k, HasMetadata obj) {
    synchronized (this) {
      String key = KubernetesDatastore.keyOf(k, obj);
      Entry old = cache.remove(key);
      if (old != null) {
        emit(key, Optional.of(old), Optional.empty());
      }
    }
  }

  /** Under the lock: the listener sees changes in the order they were made to the cache. */
  private void emit(String key, Optional<Entry> old, Optional<Entry> now) {
    long r = revision.incrementAndGet();
    listener.accept(
        new UpdateBatch(
            List.of(ResourceUpdate.of(key, old.map(Entry::value), now.map(Entry::value), r)),
            r,
            false));
  }

  private static boolean isEndpoint(KubernetesKind k) {
    return k.kind().equals("WorkloadEndpoint");
  }

  /** A counter of the changes the informers delivered (resourceVersions are per-object here). */
  @Override
  public long revision() {
    return revision.get();
  }

  /**
   * Every informer has listed at least once. A watch being re-established (each ends after its
   * server timeout) does not make the cache unsynced: the agent would flap to not ready for that
   * moment. Whether the API server answers is {@link #checkReachable}'s question.
   */
  @Override
  public synchronized boolean synced() {
    return !informers.isEmpty() && informers.stream().allMatch(SharedIndexInformer::hasSynced);
  }

  private synchronized boolean watching() {
    return !informers.isEmpty() && informers.stream().allMatch(SharedIndexInformer::isWatching);
  }

  /**
   * Unchanged when no event arrived since {@code revision} and every workload endpoint this process
   * wrote through the datastore (a CNI ADD) has come back through the informer.
   */
  @Override
  public boolean unchangedSince(long revision) {
    return this.revision.get() == revision
        && datastore.writesInFlight() == 0
        && seenEndpointRevision.get() >= datastore.lastEndpointWrite();
  }

  /** Watching informers are proof enough; otherwise the API server is asked for its version. */
  @Override
  public OptionalLong relists() {
    // fabric8's informers re-list on their own and do not say when.
    return OptionalLong.empty();
  }

  @Override
  public void checkReachable() {
    if (watching()) {
      return;
    }
    datastore.ping();
  }

  @Override
  public synchronized void close() {
    for (SharedIndexInformer<? extends HasMetadata> i : informers) {
      i.stop();
    }
    informers.clear();
  }

  /** For tests: the informers' last listed or watched resourceVersion by kind. */
  public synchronized Map<String, String> lastSyncResourceVersions() {
    Map<String, String> out = new HashMap<>();
    for (int n = 0; n < informers.size(); n++) {
      String rv = informers.get(n).lastSyncResourceVersion();
      out.put(kinds.get(n).kind(), rv == null ? "" : rv);
    }
    return out;
  }
}
