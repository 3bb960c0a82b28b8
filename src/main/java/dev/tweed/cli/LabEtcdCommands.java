package dev.tweed.cli;

import dev.tweed.datastore.EtcdDatastore;
import dev.tweed.lab.EtcdCluster;
import dev.tweed.lab.Lab;
import dev.tweed.lab.LabState;
import dev.tweed.lab.LabStores;
import dev.tweed.model.Json;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code tweed lab etcd}: the etcd cluster of a lab brought up with {@code --datastore etcd}. */
@Command(name = "etcd", description = "The lab's etcd cluster (--datastore etcd).")
final class LabEtcdCommands {

  /** One member as the status command reports it. */
  record MemberRow(String name, String endpoint, boolean healthy, boolean leader) {}

  static LabState requireEtcd(Lab lab) {
    LabState state = LabState.read(lab.layout()).orElseThrow();
    if (!state.etcd()) {
      throw new IllegalStateException(
          "lab '" + lab.layout().name() + "' keeps its state in the embedded store, not etcd");
    }
    return state;
  }

  static List<MemberRow> rows(Lab lab, LabState state) {
    EtcdCluster cluster = EtcdCluster.ofLab(lab.layout(), state.etcdMembers());
    try (EtcdDatastore store = (EtcdDatastore) LabStores.open(lab.layout(), state)) {
      List<EtcdDatastore.MemberStatus> status = store.memberStatus();
      // The leader is the member whose own id is the leader id that the healthy members report.
      return java.util.stream.IntStream.range(0, status.size())
          .mapToObj(
              i -> {
                EtcdDatastore.MemberStatus s = status.get(i);
                return new MemberRow(
                    cluster.members().get(i).name(),
                    s.endpoint(),
                    s.healthy(),
                    s.healthy() && s.memberId() != 0 && s.memberId() == s.leaderId());
              })
          .toList();
    }
  }

  @Command(name = "status", description = "The members, their health and the leader.")
  static final class Status implements Callable<Integer> {
    @Mixin LabOption lab;

    @Option(
        names = {"-o", "--output"},
        defaultValue = "text",
        description = "text | json")
    String output;

    @Override
    public Integer call() {
      Lab l = LabCommand.requireLab(lab);
      List<MemberRow> rows = rows(l, requireEtcd(l));
      if (output.equals("json")) {
        System.out.println(Json.pretty(java.util.Map.of("members", rows)));
      } else {
        System.out.printf("%-8s %-26s %-9s %s%n", "MEMBER", "ENDPOINT", "HEALTHY", "LEADER");
        for (MemberRow r : rows) {
          System.out.printf(
              "%-8s %-26s %-9s %s%n", r.name(), r.endpoint(), r.healthy(), r.leader() ? "*" : "");
        }
      }
      return rows.stream().allMatch(MemberRow::healthy) ? 0 : 1;
    }
  }

  @Command(name = "stop", description = "Stop one member (its data stays).")
  static final class Stop implements Callable<Integer> {
    @Mixin LabOption lab;

    @Parameters(paramLabel = "MEMBER", description = "etcd-1, etcd-2, ...")
    String member;

    @Option(names = "--kill", description = "SIGKILL instead of SIGTERM, as a crash would.")
    boolean kill;

    @Override
    public Integer call() {
      Lab l = LabCommand.requireLab(lab);
      l.stopEtcdMember(requireEtcd(l), member, kill);
      System.out.println("etcd member " + member + (kill ? " killed" : " stopped"));
      return 0;
    }
  }

  @Command(name = "start", description = "Start a stopped member; it rejoins from its data.")
  static final class Start implements Callable<Integer> {
    @Mixin LabOption lab;

    @Parameters(paramLabel = "MEMBER", description = "etcd-1, etcd-2, ...")
    String member;

    @Override
    public Integer call() {
      Lab l = LabCommand.requireLab(lab);
      l.startEtcdMember(requireEtcd(l), member);
      System.out.println("etcd member " + member + " started");
      return 0;
    }
  }
}
