package dev.tweed.it;

import dev.tweed.kernel.NetnsDump;
import dev.tweed.kernel.NetnsState;
import dev.tweed.sys.Command;
import dev.tweed.trace.NetnsCapture;
import dev.tweed.trace.TraceWorld;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Namespaces a test builds by hand (hosts laid out the way other tools lay them out), all named
 * {@code tw-<stem><pid>-…} and removed by {@link #close()}.
 */
final class ScratchNetwork implements AutoCloseable {
  private final String prefix;
  private final Map<String, String> labels = new LinkedHashMap<>();

  ScratchNetwork(String stem) {
    this.prefix = "tw-" + stem + ProcessHandle.current().pid() % 100000 + "-";
  }

  /** Creates namespace {@code name} with loopback up; returns its full name. */
  String add(String name) {
    String ns = prefix + name;
    Command.run(List.of("ip", "netns", "add", ns));
    labels.put(ns, name);
    ip(ns, "link", "set", "lo", "up");
    return ns;
  }

  String ns(String name) {
    return prefix + name;
  }

  static void ip(String ns, String... args) {
    List<String> argv = new ArrayList<>(List.of("ip", "-n", ns));
    argv.addAll(List.of(args));
    Command.run(argv);
  }

  static String exec(String ns, String stdin, String... args) {
    List<String> argv = new ArrayList<>(List.of("ip", "netns", "exec", ns));
    argv.addAll(List.of(args));
    return Command.run(argv, stdin);
  }

  /** A veth pair from {@code a}'s {@code aName} to {@code b}'s {@code bName}, both up. */
  static void veth(String a, String aName, String b, String bName) {
    Command.run(
        List.of(
            "ip",
            "link",
            "add",
            "tw-tmp-a",
            "netns",
            a,
            "type",
            "veth",
            "peer",
            "name",
            "tw-tmp-b",
            "netns",
            b));
    ip(a, "link", "set", "tw-tmp-a", "name", aName);
    ip(b, "link", "set", "tw-tmp-b", "name", bName);
    ip(a, "link", "set", aName, "up");
    ip(b, "link", "set", bName, "up");
  }

  static void sysctl(String ns, String setting) {
    exec(ns, "", "sysctl", "-q", "-w", setting);
  }

  /** What {@code tweed capture} records, for every namespace of this network. */
  TraceWorld capture() {
    Map<String, NetnsState> states = new LinkedHashMap<>();
    for (String ns : labels.keySet()) {
      states.put(ns, NetnsDump.parse(NetnsCapture.capture(Optional.of(ns))));
    }
    return new TraceWorld(states, labels);
  }

  List<String> namespaces() {
    return List.copyOf(labels.keySet());
  }

  @Override
  public void close() {
    for (String ns : labels.keySet()) {
      Command.exec(List.of("ip", "netns", "del", ns), "", Map.of());
    }
  }
}
