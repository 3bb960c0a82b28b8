package dev.tweed.lab;

import dev.tweed.datastore.EtcdTls;
import dev.tweed.sys.Command;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;

/**
 * The lab's own certificate authority for etcd, made with Debian's openssl: a CA, a certificate per
 * member (server and peer, naming its underlay address and 127.0.0.1, where the lab's forwarders
 * reach it), and a client certificate per etcd user. etcd's {@code --client-cert-auth} takes a
 * client certificate's common name as the user, so the names here are the users {@link EtcdAccess}
 * gives their roles. Everything lives in the lab's directory and goes with it.
 */
public final class EtcdPki {
  /** etcd's administrator: creates the roles and users and turns authentication on. */
  public static final String ROOT = "root";

  /** The lab's controller and CLI: read and write everything under Tweed's root. */
  public static final String CONTROLLER = "tweed-controller";

  /** Node agents (and the CNI calls they serve): read everything, write only their own kinds. */
  public static final String NODE = "tweed-node";

  private final Path dir;

  private EtcdPki(Path dir) {
    this.dir = dir;
  }

  public static EtcdPki of(LabLayout layout) {
    return new EtcdPki(layout.dir().resolve("pki"));
  }

  public Path ca() {
    return dir.resolve("ca.crt");
  }

  public Path cert(String name) {
    return dir.resolve(name + ".crt");
  }

  public Path key(String name) {
    return dir.resolve(name + ".key");
  }

  /** The client files of one etcd user. */
  public EtcdTls client(String user) {
    return new EtcdTls(cert(user), key(user), ca());
  }

  public boolean exists() {
    return Files.exists(ca());
  }

  /** Creates the CA and every certificate: one per member (by name and address), one per user. */
  public void create(List<EtcdCluster.Member> members) {
    try {
      Files.createDirectories(dir);
      Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
      newKey(
          "ca",
          "-x509",
          "-out",
          ca().toString(),
          "-days",
          "3650",
          "-subj",
          "/CN=tweed lab etcd CA",
          "-addext",
          "basicConstraints=critical,CA:TRUE",
          "-addext",
          "keyUsage=critical,keyCertSign,cRLSign");
      for (EtcdCluster.Member m : members) {
        issue(
            m.name(),
            "subjectAltName=IP:"
                + m.ip()
                + ",IP:127.0.0.1\n"
                + "extendedKeyUsage=serverAuth,clientAuth\n");
      }
      for (String user : List.of(ROOT, CONTROLLER, NODE)) {
        issue(user, "extendedKeyUsage=clientAuth\n");
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A key and a certificate for {@code name}, signed by the CA, with the given extensions. */
  private void issue(String name, String extensions) throws IOException {
    Path csr = dir.resolve(name + ".csr");
    Path ext = dir.resolve(name + ".ext");
    Files.writeString(ext, "basicConstraints=critical,CA:FALSE\n" + extensions);
    try {
      newKey(name, "-out", csr.toString(), "-subj", "/CN=" + name);
      openssl(
          "x509",
          "-req",
          "-in",
          csr.toString(),
          "-CA",
          ca().toString(),
          "-CAkey",
          key("ca").toString(),
          "-CAcreateserial",
          "-days",
          "825",
          "-extfile",
          ext.toString(),
          "-out",
          cert(name).toString());
      Files.setPosixFilePermissions(key(name), PosixFilePermissions.fromString("rw-------"));
    } finally {
      Files.deleteIfExists(csr);
      Files.deleteIfExists(ext);
    }
  }

  /** {@code openssl req} making a new P-256 key for {@code name}, unencrypted, and more. */
  private void newKey(String name, String... more) {
    List<String> args =
        new ArrayList<>(
            List.of(
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                key(name).toString()));
    args.addAll(List.of(more));
    openssl(args.toArray(String[]::new));
  }

  private static void openssl(String... args) {
    List<String> argv = new ArrayList<>(List.of("openssl"));
    argv.addAll(List.of(args));
    Command.run(argv);
  }
}
