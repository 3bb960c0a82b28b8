package dev.tweed.datastore;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * Which datastore a process keeps its state in: {@code embedded} (a journal directory), {@code
 * etcd} (members' client URLs, with the client's TLS files for {@code https} ones) or {@code
 * kubernetes} (a kubeconfig, or the in-cluster service account when none is given).
 */
public record DatastoreSpec(
    DatastoreKind kind,
    Optional<Path> dir,
    List<String> etcdEndpoints,
    Optional<EtcdTls> etcdTls,
    Optional<Path> kubeconfig) {
  /**
   * How long one datastore call may take before the store counts as unreachable: a CNI call waits
   * on it, and must answer "try again later" rather than hang.
   */
  public static final Duration TIMEOUT = Duration.ofSeconds(3);

  public DatastoreSpec {
    etcdEndpoints = List.copyOf(etcdEndpoints);
    switch (kind) {
      case EMBEDDED -> {
        if (dir.isEmpty()) {
          throw new IllegalArgumentException("--datastore embedded needs --store DIR");
        }
      }
      case ETCD -> {
        if (etcdEndpoints.isEmpty()) {
          throw new IllegalArgumentException(
              "--datastore etcd needs --etcd-endpoints http://IP:2379[,...]");
        }
        checkSchemes(etcdEndpoints, etcdTls);
      }
      case KUBERNETES -> {}
    }
  }

  /**
   * An {@code https} endpoint is only ever reached with a client certificate and the CA to check
   * the member by: never without (etcd would refuse, or the member go unchecked), and never mixed
   * with plain {@code http} ones.
   */
  static void checkSchemes(List<String> endpoints, Optional<EtcdTls> tls) {
    long https = endpoints.stream().filter(e -> e.startsWith("https://")).count();
    if (https > 0 && https < endpoints.size()) {
      throw new IllegalArgumentException(
          "--etcd-endpoints mixes https and http members: " + String.join(",", endpoints));
    }
    if (https > 0 && tls.isEmpty()) {
      throw new IllegalArgumentException(
          "--etcd-endpoints "
              + String.join(",", endpoints)
              + " are https: give --etcd-cert-file, --etcd-key-file and --etcd-ca-file (this"
              + " client's certificate and key, and the CA that signed the members')");
    }
    if (https == 0 && tls.isPresent()) {
      throw new IllegalArgumentException(
          "--etcd-cert-file/--etcd-key-file/--etcd-ca-file given, but --etcd-endpoints "
              + String.join(",", endpoints)
              + " are plain http: use https:// endpoints");
    }
  }

  public boolean kubernetes() {
    return kind == DatastoreKind.KUBERNETES;
  }
}
