package dev.tweed.cli;

import dev.tweed.lab.service.BgpSession;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Mixin;

/** {@code tweed lab bgp}: the BGP sessions of a lab routed by BIRD. */
@picocli.CommandLine.Command(
    name = "bgp",
    description = "BGP routing by BIRD in a lab (--routing bgp).")
final class LabBgpCommands {

  @picocli.CommandLine.Command(
      name = "status",
      description = "Each node's BGP sessions and their state, like calicoctl node status.")
  static final class Status implements Callable<Integer> {
    @Mixin LabOption lab;

    @Override
    public Integer call() {
      List<BgpSession> sessions = lab.service().bgpSessions();
      System.out.printf(
          "%-8s %-8s %-15s %-12s %-14s %s%n", "NODE", "PEER", "ADDRESS", "STATE", "SINCE", "INFO");
      for (BgpSession s : sessions) {
        System.out.printf(
            "%-8s %-8s %-15s %-12s %-14s %s%n",
            s.node(), s.peer(), s.address(), s.state(), s.since(), s.info());
      }
      return sessions.stream().allMatch(BgpSession::established) ? 0 : 1;
    }
  }
}
