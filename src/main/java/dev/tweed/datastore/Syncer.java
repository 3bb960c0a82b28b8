package dev.tweed.datastore;

import java.util.OptionalLong;

/**
 * What feeds the calculation graph: a cache of resources by resource key ({@code Kind/name}, {@code
 * Kind/namespace/name}), Kubernetes-shaped JSON, kept current by list+watch, whose every change
 * reaches the listener given at construction as an {@link UpdateBatch} of typed updates. It does
 * not say where the resources come from: {@link StoreSyncer} follows a {@link Datastore} (the
 * embedded journal or etcd), {@code KubernetesSyncer} follows an API server with informers.
 */
public interface Syncer extends AutoCloseable {
  /** Lists, then keeps following; hands the listener each change to the cache as it happens. */
  void start();

  /** A monotonic counter of the changes the cache reflects: a new value means new inputs. */
  long revision();

  /**
   * True once a listing is in the cache and changes are being followed. While a watch is being
   * re-established or a re-list is pending, the cache is kept as it was, not emptied; the store
   * syncer reports false until its re-list succeeds, the informers stay synced while they
   * reconnect.
   */
  boolean synced();

  /**
   * Whether nothing changed since {@code revision}, in the cache or through writes of this process
   * the cache has not seen yet; false when that cannot be known (the store does not answer).
   */
  boolean unchangedSince(long revision);

  /**
   * How many times the cache was listed again after its first listing (a broken or compacted watch,
   * the store back after an outage); empty where the syncer cannot tell (informers re-list inside
   * the client library).
   */
  OptionalLong relists();

  /** Throws {@link DatastoreUnavailableException} when the datastore cannot be reached now. */
  void checkReachable();

  @Override
  void close();
}
