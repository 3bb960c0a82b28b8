package dev.tweed.lab.service;

import dev.tweed.lab.LabLayout;
import dev.tweed.sys.Command;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** One BGP session as a node's BIRD reports it ({@code birdc show protocols all}). */
public record BgpSession(
    String node, String peer, String address, String state, String since, String info) {

  public boolean established() {
    return info.startsWith("Established");
  }

  /** The sessions of {@code node}'s BIRD; a node whose BIRD is down has one row saying so. */
  static List<BgpSession> read(String node, LabLayout layout) {
    String ctl = layout.agentSocket(node).getParent().resolve(node + "-bird.ctl").toString();
    Command.Result r =
        Command.exec(List.of("birdc", "-s", ctl, "show", "protocols", "all"), "", Map.of());
    if (!r.ok()) {
      return List.of(new BgpSession(node, "-", "-", "BIRD down", "-", r.stderr().strip()));
    }
    return parse(node, r.stdout());
  }

  static List<BgpSession> parse(String node, String showProtocolsAll) {
    List<BgpSession> out = new ArrayList<>();
    String[] header = null;
    String peer = "";
    String address = "";
    for (String line : (showProtocolsAll + "\nend end\n").split("\n")) {
      String[] f = line.trim().split("\\s+", 6);
      boolean protocolLine = !line.isEmpty() && !Character.isWhitespace(line.charAt(0));
      if (protocolLine && header != null) {
        out.add(
            new BgpSession(
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
