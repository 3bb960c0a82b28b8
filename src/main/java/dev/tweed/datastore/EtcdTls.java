package dev.tweed.datastore;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * How a client proves itself to etcd and checks etcd in return, as Calico's components take it: a
 * client certificate and its key (PEM; etcd's {@code --client-cert-auth} maps the certificate's
 * common name to an etcd user), and the CA that signed the members' certificates.
 */
public record EtcdTls(Path certFile, Path keyFile, Path caFile) {
  public EtcdTls {
    for (Path p : new Path[] {certFile, keyFile, caFile}) {
      if (!Files.isReadable(p)) {
        throw new IllegalArgumentException("cannot read etcd TLS file " + p);
      }
    }
  }

  /**
   * The files given on a command line: all three or none; a partial set is an error that names what
   * is missing.
   */
  public static Optional<EtcdTls> of(Path certFile, Path keyFile, Path caFile) {
    if (certFile == null && keyFile == null && caFile == null) {
      return Optional.empty();
    }
    if (certFile == null || keyFile == null || caFile == null) {
      throw new IllegalArgumentException(
          "etcd TLS needs all of --etcd-cert-file, --etcd-key-file and --etcd-ca-file; missing "
              + (certFile == null ? "--etcd-cert-file " : "")
              + (keyFile == null ? "--etcd-key-file " : "")
              + (caFile == null ? "--etcd-ca-file" : "").trim());
    }
    return Optional.of(new EtcdTls(certFile, keyFile, caFile));
  }
}
