package dev.tweed.cli;

import dev.tweed.lab.Lab;
import dev.tweed.lab.LabLayout;
import dev.tweed.lab.LabState;
import dev.tweed.sys.Command;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Mixin;

/** {@code tweed lab bgp}: the BGP sessions of a lab routed by BIRD. */
@picocli.CommandLine.Command(
    name = "bgp",
    description = "BGP routing by BIRD in a lab (--routing bgp).")
final class LabBgpCommands {

  /** One BGP session as a node's BIRD reports it. */
  record Session(
      String node, String peer, String address, String state, String since, String info) {}

  @picocli.CommandLine.Command(
      name = "status",
      description = "Each node's BGP sessions and their state, like calicoctl node status.")
  static final class Status implements Callable<Integer> {
    @Mixin LabOption lab;

    @Override
    public Integer call() {
      Lab l = LabCommand.requireLab(lab);
      LabState state = LabState.read(l.layout()).orElseThrow();
      if (!state.routing().equals("bgp")) {
        System.err.println(
            "lab '" + l.layout().name() + "' routes by " + state.routing() + ", not BGP");
        return 1;
      }
      List<Session> sessions = new ArrayList<>();
      for (int i = 1; i <= state.nodes(); i++) {
        String node = LabLayout.nodeName(i);
        sessions.addAll(
            sessions(node, l.layout()).stream()
                .sorted(java.util.Comparator.comparing(Session::peer))
                .toList());
      }
      System.out.printf(
          "%-8s %-8s %-15s %-12s %-14s %s%n", "NODE", "PEER", "ADDRESS", "STATE", "SINCE", "INFO");
      for (Session s : sessions) {
        System.out.printf(
            "%-8s %-8s %-15s %-12s %-14s %s%n",
            s.node(), s.peer(), s.address(), s.state(), s.since(), s.info());
      }
      return sessions.stream().allMatch(s -> s.info().startsWith("Established")) ? 0 : 1;
    }
  }

  /** The sessions {@code birdc show protocols all} lists; a node whose BIRD is down has none. */
  static List<Session> sessions(String node, LabLayout layout) {
    String ctl = layout.agentSocket(node).getParent().resolve(node + "-bird.ctl").toString();
    Command.Result r =
        Command.exec(List.of("birdc", "-s", ctl, "show", "protocols", "all"), "", Map.of());
    List<Session> out = new ArrayList<>();
    if (!r.ok()) {
      out.add(new Session(node, "-", "-", "BIRD down", "-", r.stderr().strip()));
      return out;
    }
    String[] header = null;
    String peer = "";
    String address = "";
    for (String line : (r.stdout() + "\nend end\n").split("\n")) {
      String[] f = line.trim().split("\\s+", 6);
      boolean protocolLine = !line.isEmpty() && !Character.isWhitespace(line.charAt(0));
      if (protocolLine && header != null) {
        out.add(
            new Session(
                node, peer, address, header[3], header[4], header.length > 5 ? header[5] : ""));
        header = null;
      }
      if (protocolLine && f.length >= 5 && f[1].equals("BGP")) {
        header = f;
        peer = "";
        address = "";
      } else if (header != null && line.trim().startsWith("Description:")) {
        peer = line.trim().substring("Description:".length()).trim().split(",")[0];
      } else if (header != null && line.trim().startsWith("Neighbor address:")) {
        address = line.trim().substring("Neighbor address:".length()).trim();
      }
    }
    return out;
  }
}
