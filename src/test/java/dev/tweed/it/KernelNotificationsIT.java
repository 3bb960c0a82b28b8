package dev.tweed.it;

import dev.tweed.lab.Namespaces;
import dev.tweed.sys.Command;
import dev.tweed.sys.NetworkNamespace;
import dev.tweed.sys.RtNetlinkMonitor;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * What lets a quiet node's route driver skip reading the kernel: rtnetlink notifications of the
 * namespace the monitor started in, for a link, an address, a route and a neighbour changed by
 * another process ({@code ip}), each seen within a few seconds.
 */
class KernelNotificationsIT {
  private static final String NS = "tw-rtmon";

  @AfterEach
  void cleanup() {
    Namespaces.delete(NS);
  }

  @Test
  void linksAddressesRoutesAndNeighboursChangedByAnotherProcessAreAnnounced() throws Exception {
    Namespaces.add(NS);
    AtomicInteger calls = new AtomicInteger();
    try (RtNetlinkMonitor monitor =
        NetworkNamespace.call(
            NetworkNamespace.pathOf(NS), () -> RtNetlinkMonitor.start(calls::incrementAndGet))) {
      changeAndAwait(
          calls,
          "link",
          "ip",
          "link",
          "add",
          "tw-dummy0",
          "type",
          "veth",
          "peer",
          "name",
          "tw-dummy1");
      ip("link", "set", "tw-dummy1", "up");
      ip("link", "set", "tw-dummy0", "up");
      changeAndAwait(calls, "address", "ip", "addr", "add", "192.0.2.1/24", "dev", "tw-dummy0");
      changeAndAwait(
          calls,
          "route",
          "ip",
          "route",
          "add",
          "198.51.100.0/24",
          "via",
          "192.0.2.2",
          "proto",
          "97");
      changeAndAwait(
          calls,
          "neighbour",
          "ip",
          "neigh",
          "add",
          "192.0.2.3",
          "lladdr",
          "02:00:00:00:00:03",
          "dev",
          "tw-dummy0",
          "nud",
          "permanent");
    }
  }

  private static void changeAndAwait(AtomicInteger calls, String what, String... argv) {
    int before = calls.get();
    run(argv);
    Tweed.await(what + " announced", Duration.ofSeconds(5), () -> calls.get() > before);
  }

  private static void ip(String... args) {
    List<String> argv = new ArrayList<>(List.of("ip"));
    argv.addAll(List.of(args));
    run(argv.toArray(String[]::new));
  }

  private static void run(String... argv) {
    List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", NS));
    cmd.addAll(List.of(argv));
    Command.run(cmd);
  }
}
