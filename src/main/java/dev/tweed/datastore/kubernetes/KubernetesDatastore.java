package dev.tweed.datastore.kubernetes;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tweed.datastore.ConflictException;
import dev.tweed.datastore.Datastore;
import dev.tweed.datastore.DatastoreSpec;
import dev.tweed.datastore.DatastoreUnavailableException;
import dev.tweed.datastore.Entry;
import dev.tweed.datastore.Event;
import dev.tweed.datastore.Listing;
import dev.tweed.datastore.WatchBrokenException;
import dev.tweed.model.Json;
import dev.tweed.model.ResourceKey;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceList;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.ListOptionsBuilder;
import io.fabric8.kubernetes.api.model.StatusDetails;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import io.fabric8.kubernetes.client.dsl.NonNamespaceOperation;
import io.fabric8.kubernetes.client.dsl.Resource;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The Kubernetes API as a key-value store, through the generic (dynamic) client: a key {@code
 * Kind/name} or {@code Kind/namespace/name} is that object; its modification revision is its
 * resourceVersion (the API server's etcd revision), so compare-and-swap is an update carrying the
 * expected resourceVersion, which the server refuses with 409 Conflict when it moved. The agent
 * writes its IPAM blocks and workload endpoints (custom resources) this way; it follows the cluster
 * with {@link KubernetesSyncer}'s informers, not with {@link #watch}.
 */
public final class KubernetesDatastore implements Datastore {
  private final KubernetesClient client;
  private final AtomicInteger writesInFlight = new AtomicInteger();
  private final AtomicLong lastEndpointWrite = new AtomicLong();

  public KubernetesDatastore(KubernetesClient client) {
    this.client = client;
  }

  /** A client from {@code kubeconfig}, or the in-cluster service account when empty. */
  public static KubernetesDatastore connect(Optional<Path> kubeconfig) {
    Config config;
    try {
      config =
          kubeconfig.isPresent()
              ? Config.fromKubeconfig(Files.readString(kubeconfig.get()))
              : Config.autoConfigure(null);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read kubeconfig " + kubeconfig.get(), e);
    }
    // A CNI call waits on these requests: fail in seconds, as with etcd, instead of retrying for
    // a minute (fabric8's default); informers keep their own reconnect loop.
    config.setConnectionTimeout((int) DatastoreSpec.TIMEOUT.toMillis());
    config.setRequestTimeout((int) DatastoreSpec.TIMEOUT.toMillis());
    config.setRequestRetryBackoffLimit(1);
    return new KubernetesDatastore(new KubernetesClientBuilder().withConfig(config).build());
  }

  public KubernetesClient client() {
    return client;
  }

  /** Writes sent and not yet answered. */
  int writesInFlight() {
    return writesInFlight.get();
  }

  /** The resourceVersion of the newest workload endpoint this process wrote. */
  long lastEndpointWrite() {
    return lastEndpointWrite.get();
  }

  /** Throws {@link DatastoreUnavailableException} unless the API server answers. */
  public void ping() {
    call("version", () -> client.getKubernetesVersion());
  }

  private NonNamespaceOperation<
          GenericKubernetesResource,
          GenericKubernetesResourceList,
          Resource<GenericKubernetesResource>>
      kind(KubernetesKind k, Optional<String> namespace) {
    var all = client.genericKubernetesResources(k.context());
    return namespace.isPresent() ? all.inNamespace(namespace.get()) : all;
  }

  static long revisionOf(HasMetadata r) {
    return parseRevision(r.getMetadata().getResourceVersion());
  }

  static long parseRevision(String resourceVersion) {
    // Opaque by contract; decimal in every API server (it is etcd's revision).
    try {
      return resourceVersion == null ? 0 : Long.parseLong(resourceVersion);
    } catch (NumberFormatException e) {
      return 0;
    }
  }

  /** Where an object of kind {@code k} lives among Tweed's resource keys. */
  static String keyOf(KubernetesKind k, HasMetadata r) {
    String ns = r.getMetadata().getNamespace();
    String name = r.getMetadata().getName();
    return (k.namespaced() && ns != null && !ns.isEmpty()
            ? ResourceKey.namespaced(k.kind(), ns, name)
            : ResourceKey.cluster(k.kind(), name))
        .toString();
  }

  /** The object as the calculation graph reads it: its JSON under its key, at its revision. */
  static Entry entry(KubernetesKind k, HasMetadata r) {
    // fabric8's own serialization: it knows the model's types (IntOrString, Quantity, ...).
    JsonNode value = Json.parse(Serialization.asJson(r));
    return new Entry(keyOf(k, r), value, 0, revisionOf(r));
  }

  private <T> T call(String what, Supplier<T> op) {
    try {
      return op.get();
    } catch (KubernetesClientException e) {
      if (e.getCode() >= 400 && e.getCode() < 500) {
        throw e;
      }
      throw new DatastoreUnavailableException(what, e);
    }
  }

  @Override
  public Listing list(String prefix) {
    List<Entry> out = new ArrayList<>();
    long revision = 0;
    for (KubernetesKind k : KubernetesKind.ALL) {
      String kindPrefix = ResourceKey.kindPrefix(k.kind());
      if (!kindPrefix.startsWith(prefix) && !prefix.startsWith(kindPrefix)) {
        continue;
      }
      GenericKubernetesResourceList list =
          call(
              "list " + k.plural(),
              () -> client.genericKubernetesResources(k.context()).inAnyNamespace().list());
      revision = Math.max(revision, parseRevision(list.getMetadata().getResourceVersion()));
      for (GenericKubernetesResource r : list.getItems()) {
        Entry e = entry(k, r);
        if (e.key().startsWith(prefix)) {
          out.add(e);
        }
      }
    }
    return new Listing(List.copyOf(out), revision);
  }

  /** The revision of the newest workload endpoint list: what CNI calls move. */
  @Override
  public long currentRevision() {
    KubernetesKind k = KubernetesKind.require("WorkloadEndpoint");
    return parseRevision(
        call(
                "revision",
                () ->
                    client
                        .genericKubernetesResources(k.context())
                        .list(new ListOptionsBuilder().withLimit(1L).build()))
            .getMetadata()
            .getResourceVersion());
  }

  @Override
  public Optional<Entry> get(String key) {
    ResourceKey rk = ResourceKey.parse(key);
    KubernetesKind k = KubernetesKind.require(rk.kind());
    GenericKubernetesResource r =
        call("get " + key, () -> kind(k, rk.namespace()).withName(rk.name()).get());
    return Optional.ofNullable(r).map(x -> entry(k, x));
  }

  @Override
  public long put(String key, JsonNode value, long expectedModRevision) throws ConflictException {
    ResourceKey rk = ResourceKey.parse(key);
    KubernetesKind k = KubernetesKind.require(rk.kind());
    ObjectNode body = value.deepCopy();
    body.put("apiVersion", k.apiVersion());
    body.put("kind", k.kind());
    ObjectNode meta = body.with("metadata");
    meta.put("name", rk.name());
    rk.namespace().ifPresent(ns -> meta.put("namespace", ns));
    meta.remove("resourceVersion");
    if (expectedModRevision > 0) {
      meta.put("resourceVersion", String.valueOf(expectedModRevision));
    }
    GenericKubernetesResource r =
        Serialization.unmarshal(Json.write(body), GenericKubernetesResource.class);
    var op = kind(k, rk.namespace()).resource(r);
    writesInFlight.incrementAndGet();
    try {
      GenericKubernetesResource written =
          call(
              "put " + key,
              () -> {
                if (expectedModRevision == ABSENT) {
                  return op.create();
                }
                if (expectedModRevision == ANY) {
                  return op.unlock().createOr(existing -> existing.update());
                }
                return op.update();
              });
      long rv = revisionOf(written);
      if (k.kind().equals("WorkloadEndpoint")) {
        lastEndpointWrite.accumulateAndGet(rv, Math::max);
      }
      return rv;
    } catch (KubernetesClientException e) {
      // 409: the object moved or already exists; 404: an update of one that is gone.
      if (e.getCode() == 409 || e.getCode() == 404) {
        throw new ConflictException(key, expectedModRevision, -1);
      }
      throw e;
    } finally {
      writesInFlight.decrementAndGet();
    }
  }

  @Override
  public long delete(String key, long expectedModRevision) throws ConflictException {
    ResourceKey rk = ResourceKey.parse(key);
    KubernetesKind k = KubernetesKind.require(rk.kind());
    Resource<GenericKubernetesResource> res = kind(k, rk.namespace()).withName(rk.name());
    if (expectedModRevision != ANY) {
      GenericKubernetesResource current = call("get " + key, res::get);
      long actual = current == null ? 0 : revisionOf(current);
      if (actual != expectedModRevision) {
        throw new ConflictException(key, expectedModRevision, actual);
      }
    }
    // The server checks the precondition again, so a write in between still loses (409).
    Supplier<List<StatusDetails>> op =
        expectedModRevision == ANY
            ? res::delete
            : () -> res.lockResourceVersion(String.valueOf(expectedModRevision)).delete();
    List<StatusDetails> deleted;
    try {
      deleted = call("delete " + key, op);
    } catch (KubernetesClientException e) {
      if (e.getCode() == 409) {
        throw new ConflictException(key, expectedModRevision, -1);
      }
      throw e;
    }
    return deleted.isEmpty() ? 0 : currentRevision();
  }

  /** A plain watch of one kind from a resourceVersion; 410 Gone ends it as compacted. */
  @Override
  public AutoCloseable watch(
      String prefix,
      long afterRevision,
      Consumer<List<Event>> onEvents,
      Consumer<WatchBrokenException> onBroken) {
    String kindName = prefix.contains("/") ? prefix.substring(0, prefix.indexOf('/')) : prefix;
    KubernetesKind k = KubernetesKind.require(kindName);
    return client
        .genericKubernetesResources(k.context())
        .inAnyNamespace()
        .watch(
            new ListOptionsBuilder().withResourceVersion(String.valueOf(afterRevision)).build(),
            new Watcher<>() {
              @Override
              public void eventReceived(Action action, GenericKubernetesResource r) {
                Entry e = entry(k, r);
                if (!e.key().startsWith(prefix)) {
                  return;
                }
                switch (action) {
                  case ADDED, MODIFIED ->
                      onEvents.accept(List.of(new Event(Event.Type.PUT, e, e.modRevision())));
                  case DELETED ->
                      onEvents.accept(List.of(new Event(Event.Type.DELETE, e, e.modRevision())));
                  default -> {}
                }
              }

              @Override
              public void onClose(WatcherException cause) {
                onBroken.accept(
                    new WatchBrokenException(
                        "watch of " + k.plural() + " ended: " + cause.getMessage(),
                        cause.isHttpGone(),
                        cause));
              }
            });
  }

  @Override
  public void close() {
    client.close();
  }
}
