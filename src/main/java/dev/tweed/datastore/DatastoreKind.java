package dev.tweed.datastore;

import dev.tweed.model.Mode;

/**
 * Where a cluster's state lives: a journal on disk, an etcd cluster, or a Kubernetes API server.
 */
public enum DatastoreKind implements Mode {
  EMBEDDED,
  ETCD,
  KUBERNETES;

  public static DatastoreKind parse(String text) {
    return Mode.parse(DatastoreKind.class, text);
  }
}
