package dev.tweed.observe;

import dev.tweed.sys.Command;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * BGP sessions by state as BIRD reports them ({@code birdc show protocols}: the Info column of each
 * BGP protocol, {@code Established}, {@code Active}, {@code Connect}, ...).
 */
public final class BgpSessions {
  private static final List<String> BGP_STATES =
      List.of("Idle", "Connect", "Active", "OpenSent", "OpenConfirm", "Established", "Close");

  private BgpSessions() {}

  public static Map<String, Long> read(Path control) {
    Command.Result r =
        Command.exec(List.of("birdc", "-s", control.toString(), "show", "protocols"), "", Map.of());
    return r.ok() ? parse(r.stdout()) : new TreeMap<>();
  }

  static Map<String, Long> parse(String showProtocols) {
    Map<String, Long> out = new TreeMap<>();
    for (String line : showProtocols.split("\n")) {
      String[] f = line.trim().split("\\s+");
      // Name Proto Table State Since Info: the session's state is Info's first word (the
      // Since column is one or two fields, as BIRD's timeformat says).
      if (f.length >= 4 && f[1].equals("BGP")) {
        String state = f[3];
        for (int i = 4; i < f.length; i++) {
          if (BGP_STATES.contains(f[i])) {
            state = f[i];
          }
        }
        out.merge(state, 1L, Long::sum);
      }
    }
    return out;
  }
}
