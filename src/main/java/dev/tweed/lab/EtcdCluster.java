package dev.tweed.lab;

import dev.tweed.datastore.EtcdDatastore;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * A real etcd cluster (Debian's etcd-server), one member per network namespace. Members are
 * detached processes found again by their data directory, so a member is only ever signalled while
 * its command line still names that directory. With a {@link EtcdPki}, clients and peers speak TLS
 * and must show a certificate of that CA.
 */
public final class EtcdCluster {
  /** One member: where it runs and listens (lab addresses only), and where it keeps its data. */
  public record Member(
      String name,
      String netns,
      String ip,
      int clientPort,
      int peerPort,
      Path dataDir,
      boolean tls) {
    public Member(
        String name, String netns, String ip, int clientPort, int peerPort, Path dataDir) {
      this(name, netns, ip, clientPort, peerPort, dataDir, false);
    }

    public String clientUrl() {
      return scheme() + ip + ":" + clientPort;
    }

    String peerUrl() {
      return scheme() + ip + ":" + peerPort;
    }

    private String scheme() {
      return tls ? "https://" : "http://";
    }
  }

  private final List<Member> members;
  private final String token;
  private final Path logDir;
  private final Optional<EtcdPki> pki;

  public EtcdCluster(List<Member> members, String token, Path logDir) {
    this(members, token, logDir, Optional.empty());
  }

  private EtcdCluster(List<Member> members, String token, Path logDir, Optional<EtcdPki> pki) {
    this.members = List.copyOf(members);
    this.token = token;
    this.logDir = logDir;
    this.pki = pki;
  }

  /**
   * The lab's members: {@code etcd-N} in {@code tw-LAB-etcd-N} on 172.31.0.(240+N), with TLS for
   * clients and peers from the lab's own CA.
   */
  public static EtcdCluster ofLab(LabLayout layout, int count) {
    List<Member> members = new ArrayList<>();
    for (int i = 1; i <= count; i++) {
      members.add(
          new Member(
              LabLayout.etcdMemberName(i),
              layout.etcdNs(i),
              LabLayout.etcdIp(i),
              2379,
              2380,
              layout.etcdDataDir(i),
              true));
    }
    return new EtcdCluster(
        members, "tw-" + layout.name(), layout.logDir(), Optional.of(EtcdPki.of(layout)));
  }

  public List<Member> members() {
    return members;
  }

  public Member member(String name) {
    return members.stream()
        .filter(m -> m.name().equals(name))
        .findFirst()
        .orElseThrow(
            () ->
                new IllegalArgumentException(
                    "no etcd member "
                        + name
                        + "; members: "
                        + members.stream().map(Member::name).collect(Collectors.joining(", "))));
  }

  public List<String> clientUrls() {
    return members.stream().map(Member::clientUrl).toList();
  }

  /**
   * The member's command line. Election timing is etcd's default (100 ms heartbeats, 1 s election
   * timeout), and history beyond the last 10,000 revisions is compacted as a production cluster
   * would be, so watchers meet compaction for real. With TLS, a client must present a certificate
   * of the lab's CA, whose common name etcd takes as the user once authentication is on.
   */
  List<String> command(Member m) {
    String cluster =
        members.stream().map(x -> x.name() + "=" + x.peerUrl()).collect(Collectors.joining(","));
    List<String> argv =
        new ArrayList<>(
            List.of(
                "etcd",
                "--name",
                m.name(),
                "--data-dir",
                m.dataDir().toString(),
                "--listen-client-urls",
                m.clientUrl(),
                "--advertise-client-urls",
                m.clientUrl(),
                "--listen-peer-urls",
                m.peerUrl(),
                "--initial-advertise-peer-urls",
                m.peerUrl(),
                "--initial-cluster",
                cluster,
                "--initial-cluster-state",
                "new",
                "--initial-cluster-token",
                token,
                "--heartbeat-interval",
                "100",
                "--election-timeout",
                "1000",
                "--auto-compaction-mode",
                "revision",
                "--auto-compaction-retention",
                "10000",
                "--logger",
                "zap"));
    pki.ifPresent(
        p ->
            argv.addAll(
                List.of(
                    "--cert-file",
                    p.cert(m.name()).toString(),
                    "--key-file",
                    p.key(m.name()).toString(),
                    "--trusted-ca-file",
                    p.ca().toString(),
                    "--client-cert-auth",
                    "--peer-cert-file",
                    p.cert(m.name()).toString(),
                    "--peer-key-file",
                    p.key(m.name()).toString(),
                    "--peer-trusted-ca-file",
                    p.ca().toString(),
                    "--peer-client-cert-auth")));
    return List.copyOf(argv);
  }

  /** Starts the member (a restarted member finds its data directory and rejoins); its PID. */
  public long start(Member m) {
    try {
      Files.createDirectories(m.dataDir().getParent());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return LabProcesses.startDetached(
        Optional.of(m.netns()), command(m), logDir.resolve(m.name() + ".log"));
  }

  /** Ends the member's process: SIGTERM, or SIGKILL with {@code kill}. */
  public void stop(long pid, Member m, boolean kill) {
    LabProcesses.stop(pid, p -> isMember(p, m.dataDir()), kill);
  }

  public boolean running(long pid, Member m) {
    return isMember(pid, m.dataDir()) && LabProcesses.isRunning(pid);
  }

  /** An etcd process whose data directory is {@code dataDir}. */
  static boolean isMember(long pid, Path dataDir) {
    return dataDirOf(pid).filter(dataDir::equals).isPresent();
  }

  /** etcd processes of any member under {@code dir}, whether or not a state file lists them. */
  static List<Long> findUnder(Path dir) {
    return LabProcesses.find(pid -> isUnder(pid, dir));
  }

  private static boolean isUnder(long pid, Path dir) {
    return dataDirOf(pid).filter(d -> d.startsWith(dir)).isPresent();
  }

  /** The data directory of an etcd process, or empty for any other process. */
  private static Optional<Path> dataDirOf(long pid) {
    return LabProcesses.argv(pid)
        .flatMap(
            argv -> {
              int d = argv.indexOf("--data-dir");
              boolean etcd =
                  !argv.isEmpty() && Path.of(argv.get(0)).getFileName().toString().equals("etcd");
              return etcd && d >= 0 && d + 1 < argv.size()
                  ? Optional.of(Path.of(argv.get(d + 1)))
                  : Optional.empty();
            });
  }

  /** Ends a leftover member found by {@link #findUnder}. */
  static void stopLeftover(long pid, Path dir) {
    LabProcesses.stop(pid, p -> isUnder(p, dir), false);
  }

  /** Waits until every member answers and they agree on a leader. */
  public static void awaitHealthy(EtcdDatastore store, int members, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      List<EtcdDatastore.MemberStatus> status = store.memberStatus();
      long healthy = status.stream().filter(EtcdDatastore.MemberStatus::healthy).count();
      boolean oneLeader =
          status.stream()
                  .filter(EtcdDatastore.MemberStatus::healthy)
                  .map(EtcdDatastore.MemberStatus::leaderId)
                  .distinct()
                  .count()
              == 1;
      if (healthy == members && oneLeader && status.get(0).leaderId() != 0) {
        return;
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException(
            "etcd cluster not healthy after " + timeout.toSeconds() + " s: " + status);
      }
      LabProcesses.sleep(100);
    }
  }
}
