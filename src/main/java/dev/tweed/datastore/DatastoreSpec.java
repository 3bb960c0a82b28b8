package dev.tweed.datastore;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * Which datastore a process keeps its state in: {@code embedded} (a journal directory), {@code
 * etcd} (members' client URLs) or {@code kubernetes} (a kubeconfig, or the in-cluster service
 * account when none is given).
 */
public record DatastoreSpec(
    String kind, Optional<Path> dir, List<String> etcdEndpoints, Optional<Path> kubeconfig) {
  /** How long one etcd call may take before the store counts as unreachable. */
  public static final Duration ETCD_TIMEOUT = Duration.ofSeconds(3);

  public DatastoreSpec {
    etcdEndpoints = List.copyOf(etcdEndpoints);
    switch (kind) {
      case "embedded" -> {
        if (dir.isEmpty()) {
          throw new IllegalArgumentException("--datastore embedded needs --store DIR");
        }
      }
      case "etcd" -> {
        if (etcdEndpoints.isEmpty()) {
          throw new IllegalArgumentException(
              "--datastore etcd needs --etcd-endpoints http://IP:2379[,...]");
        }
      }
      case "kubernetes" -> {}
      default ->
          throw new IllegalArgumentException(
              "--datastore must be embedded, etcd or kubernetes, got " + kind);
    }
  }

  public boolean kubernetes() {
    return kind.equals("kubernetes");
  }

  /** The key-value store for embedded and etcd; Kubernetes is opened by its own adapter. */
  public Datastore openStore() {
    return switch (kind) {
      case "embedded" -> new JournalDatastore(dir.orElseThrow());
      case "etcd" -> EtcdDatastore.connect(etcdEndpoints, Optional.empty(), ETCD_TIMEOUT);
      default -> throw new IllegalStateException(kind + " is not a key-value store");
    };
  }
}
