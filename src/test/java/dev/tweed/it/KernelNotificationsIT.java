package dev.tweed.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tweed.lab.Namespaces;
import dev.tweed.sys.Command;
import dev.tweed.sys.NetworkNamespace;
import dev.tweed.sys.RtNetlinkMonitor;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * What lets a quiet node's route driver skip reading the kernel: rtnetlink notifications of the
 * namespace the monitor started in, for a link, an address, a route and a neighbour changed by
 * another process ({@code ip}), each announced by its own message type within a few seconds.
 */
class KernelNotificationsIT {
  private static final String NS = "tw-rtmon";
  private static final int RTM_NEWLINK = 16;
  private static final int RTM_NEWADDR = 20;
  private static final int RTM_NEWROUTE = 24;
  private static final int RTM_NEWNEIGH = 28;

  @AfterEach
  void cleanup() {
    Namespaces.delete(NS);
  }

  @Test
  void linksAddressesRoutesAndNeighboursChangedByAnotherProcessAreAnnounced() throws Exception {
    Namespaces.add(NS);
    Set<Integer> seen = ConcurrentHashMap.newKeySet();
    try (RtNetlinkMonitor monitor =
        NetworkNamespace.call(
            NetworkNamespace.pathOf(NS), () -> RtNetlinkMonitor.start(seen::add))) {
      changeAndAwait(
          seen, RTM_NEWLINK, "link", "add", "tw-veth0", "type", "veth", "peer", "name", "tw-veth1");
      run("link", "set", "tw-veth1", "up");
      run("link", "set", "tw-veth0", "up");
      // Routes before the address: adding an address adds routes of its own, whose late
      // notifications must not be taken for the route's.
      changeAndAwait(
          seen, RTM_NEWROUTE, "route", "add", "198.51.100.0/24", "dev", "tw-veth0", "proto", "97");
      changeAndAwait(
          seen,
          RTM_NEWNEIGH,
          "neigh",
          "add",
          "192.0.2.3",
          "lladdr",
          "02:00:00:00:00:03",
          "dev",
          "tw-veth0",
          "nud",
          "permanent");
      changeAndAwait(seen, RTM_NEWADDR, "addr", "add", "192.0.2.1/24", "dev", "tw-veth0");
      // IPv6: routes and permanent neighbours are announced...
      changeAndAwait(
          seen,
          RTM_NEWROUTE,
          "-6",
          "route",
          "add",
          "2001:db8:1::/64",
          "dev",
          "tw-veth0",
          "proto",
          "97");
      changeAndAwait(
          seen,
          RTM_NEWNEIGH,
          "-6",
          "neigh",
          "add",
          "2001:db8:1::3",
          "lladdr",
          "02:00:00:00:00:04",
          "dev",
          "tw-veth0",
          "nud",
          "permanent");
      // ...neighbour discovery's own entries are not: a stale one added, then a route as a
      // marker; the marker's notification comes after the neighbour's on the same socket.
      seen.remove(RTM_NEWNEIGH);
      run(
          "-6",
          "neigh",
          "add",
          "2001:db8:1::4",
          "lladdr",
          "02:00:00:00:00:05",
          "dev",
          "tw-veth0",
          "nud",
          "stale");
      changeAndAwait(
          seen, RTM_NEWROUTE, "route", "add", "198.51.101.0/24", "dev", "tw-veth0", "proto", "97");
      assertThat(seen).doesNotContain(RTM_NEWNEIGH);
    }
  }

  /** Runs {@code ip ARGS} in the namespace and awaits a notification of {@code type}. */
  private static void changeAndAwait(Set<Integer> seen, int type, String... args) {
    seen.remove(type);
    run(args);
    Tweed.await(
        "rtnetlink message " + type + " after ip " + String.join(" ", args),
        Duration.ofSeconds(5),
        () -> seen.contains(type));
  }

  private static void run(String... args) {
    List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", NS, "ip"));
    cmd.addAll(List.of(args));
    Command.run(cmd);
  }
}
