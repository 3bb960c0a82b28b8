package dev.tweed.cli;

import dev.tweed.lab.service.EtcdMember;
import dev.tweed.lab.service.LabService;
import dev.tweed.model.Json;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code tweed lab etcd}: the etcd cluster of a lab brought up with {@code --datastore etcd}. */
@Command(name = "etcd", description = "The lab's etcd cluster (--datastore etcd).")
final class LabEtcdCommands {

  @Command(name = "status", description = "The members, their health and the leader.")
  static final class Status implements Callable<Integer> {
    @Mixin LabOption lab;

    @Mixin OutputOption output;

    @Override
    public Integer call() {
      boolean json = output.json();
      List<EtcdMember> rows = lab.service().etcdMembers();
      if (json) {
        System.out.println(Json.pretty(Map.of("members", rows)));
      } else {
        System.out.printf("%-8s %-26s %-9s %s%n", "MEMBER", "ENDPOINT", "HEALTHY", "LEADER");
        for (EtcdMember r : rows) {
          System.out.printf(
              "%-8s %-26s %-9s %s%n", r.name(), r.endpoint(), r.healthy(), r.leader() ? "*" : "");
        }
      }
      return rows.stream().allMatch(EtcdMember::healthy) ? 0 : 1;
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
      LabService l = lab.service();
      l.lab().stopEtcdMember(l.requireEtcd(), member, kill);
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
      LabService l = lab.service();
      l.lab().startEtcdMember(l.requireEtcd(), member);
      System.out.println("etcd member " + member + " started");
      return 0;
    }
  }
}
