package dev.tweed.datastore.backends;

import dev.tweed.datastore.Datastore;
import dev.tweed.datastore.DatastoreSpec;
import dev.tweed.datastore.EtcdDatastore;
import dev.tweed.datastore.JournalDatastore;
import dev.tweed.datastore.StoreSyncer;
import dev.tweed.datastore.Syncer;
import dev.tweed.datastore.UpdateBatch;
import dev.tweed.datastore.kubernetes.KubernetesDatastore;
import dev.tweed.datastore.kubernetes.KubernetesSyncer;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * The one place that knows every datastore backend (as libcalico-go's backend client does): it
 * opens the store a {@link DatastoreSpec} names, and the syncer that follows it. Everything else
 * sees a {@link Datastore} and a {@link Syncer}.
 */
public final class Backends {
  private Backends() {}

  /** The store CNI calls and IPAM write to. */
  public static Datastore open(DatastoreSpec spec) {
    return switch (spec.kind()) {
      case EMBEDDED -> new JournalDatastore(spec.dir().orElseThrow());
      case ETCD ->
          EtcdDatastore.connect(
              spec.etcdEndpoints(), Optional.empty(), DatastoreSpec.TIMEOUT, spec.etcdTls());
      case KUBERNETES -> KubernetesDatastore.connect(spec.kubeconfig());
    };
  }

  /**
   * The syncer that follows {@code store} for the given kinds: informers for an API server, list
   * and watch of the key-value store otherwise. Nothing downstream knows which.
   */
  public static Syncer syncer(Datastore store, List<String> kinds, Consumer<UpdateBatch> listener) {
    if (store instanceof KubernetesDatastore api) {
      return new KubernetesSyncer(api, kinds, listener);
    }
    return new StoreSyncer(store, kinds.stream().map(k -> k + "/").toList(), listener);
  }
}
