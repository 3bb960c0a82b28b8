package dev.tweed.datastore;

import dev.tweed.model.IpamBlock;
import dev.tweed.model.Kinds;
import dev.tweed.model.WorkloadEndpoint;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.auth.Permission;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.UUID;

/**
 * Who may do what in Tweed's part of etcd, as etcd's roles: node agents (and the CNI calls they
 * serve) read everything Tweed follows and write only what nodes allocate, IPAM blocks, workload
 * endpoints and the eBPF datapath's security identities; the controller (the lab's, and its CLI)
 * reads and writes all of it. Each role has a user of the same name, which a client certificate
 * with that common name logs in as.
 */
public final class EtcdRoles {
  /** A role: the key prefixes it may read, and those it may write. */
  public record Role(String name, List<String> readPrefixes, List<String> writePrefixes) {
    public Role {
      readPrefixes = List.copyOf(readPrefixes);
      writePrefixes = List.copyOf(writePrefixes);
    }
  }

  private EtcdRoles() {}

  public static Role node(String name, String root) {
    return new Role(
        name,
        List.of(root),
        List.of(
            root + IpamBlock.KIND + "/",
            root + WorkloadEndpoint.KIND + "/",
            root + Kinds.SECURITY_IDENTITY + "/"));
  }

  public static Role controller(String name, String root) {
    return new Role(name, List.of(root), List.of(root));
  }

  /**
   * Creates the {@code root} user (etcd requires it before authentication is on), each role and its
   * user, and turns authentication on. {@code asRoot} must be a client that etcd will take as root
   * once it is on (a certificate named {@code root}). The users' passwords are random and
   * forgotten: they log in by certificate only.
   */
  public static void enable(EtcdDatastore asRoot, List<Role> roles) {
    var auth = asRoot.client().getAuthClient();
    ByteSequence root = EtcdDatastore.bytes("root");
    asRoot.await(auth.userAdd(root, randomPassword()), "add user root");
    asRoot.await(auth.userGrantRole(root, root), "grant root the root role");
    for (Role r : roles) {
      ByteSequence name = EtcdDatastore.bytes(r.name());
      asRoot.await(auth.roleAdd(name), "add role " + r.name());
      // etcd keeps one permission per key range (a second grant on a range replaces the first),
      // so a range both read and written is granted READWRITE once.
      for (String p : r.readPrefixes()) {
        grant(
            asRoot,
            r,
            p,
            r.writePrefixes().contains(p) ? Permission.Type.READWRITE : Permission.Type.READ);
      }
      for (String p : r.writePrefixes()) {
        if (!r.readPrefixes().contains(p)) {
          grant(asRoot, r, p, Permission.Type.WRITE);
        }
      }
      asRoot.await(auth.userAdd(name, randomPassword()), "add user " + r.name());
      asRoot.await(auth.userGrantRole(name, name), "grant " + r.name() + " its role");
    }
    asRoot.await(auth.authEnable(), "enable authentication");
  }

  private static void grant(EtcdDatastore asRoot, Role r, String prefix, Permission.Type type) {
    asRoot.await(
        asRoot
            .client()
            .getAuthClient()
            .roleGrantPermission(
                EtcdDatastore.bytes(r.name()),
                EtcdDatastore.bytes(prefix),
                ByteSequence.from(prefixEnd(prefix)),
                type),
        "grant " + r.name() + " " + type + " on " + prefix);
  }

  /** The first key after every key that starts with {@code prefix}: etcd's range end. */
  static byte[] prefixEnd(String prefix) {
    byte[] end = prefix.getBytes(StandardCharsets.UTF_8);
    for (int i = end.length - 1; i >= 0; i--) {
      if (end[i] != (byte) 0xff) {
        end[i]++;
        return Arrays.copyOf(end, i + 1);
      }
    }
    return new byte[] {0};
  }

  private static ByteSequence randomPassword() {
    return EtcdDatastore.bytes(UUID.randomUUID().toString());
  }
}
