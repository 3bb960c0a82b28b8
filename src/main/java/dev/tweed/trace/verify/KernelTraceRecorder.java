package dev.tweed.trace.verify;

import dev.tweed.kernel.nftables.NftTraceEvent;
import dev.tweed.kernel.nftables.NftTraceParser;
import dev.tweed.sys.Command;
import dev.tweed.sys.NetworkNamespace;
import dev.tweed.trace.TraceWorld;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Records what the kernel's nftables does with every IPv4 and IPv6 packet in a set of namespaces:
 * an {@code inet} table {@value TraceWorld#TRACE_TABLE} whose chains run before every other
 * (priority -350, ahead of raw) sets {@code meta nftrace}, and one {@code nft -a monitor trace} per
 * namespace reads the events.
 *
 * <p>The mark is set in every namespace because the kernel clears it whenever a packet crosses into
 * another namespace (veth) or is encapsulated. iptables-nft rules are nftables rules, so the trace
 * covers iptables rule sets too. {@link #close()} stops the monitors (by their own PIDs) and
 * removes the tables.
 */
public final class KernelTraceRecorder implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(KernelTraceRecorder.class);

  /** Where readiness probes go: the discard port on the namespace's own loopback. */
  private static final int READY_PORT = 9;

  private static final String TABLE =
      """
      table inet %1$s {
        chain prerouting { type filter hook prerouting priority -350; policy accept; meta nftrace set 1; }
        chain output { type filter hook output priority -350; policy accept; meta nftrace set 1; }
      }
      """
          .formatted(TraceWorld.TRACE_TABLE);

  private final List<String> namespaces;
  private final Map<String, Process> monitors = new LinkedHashMap<>();
  private final Map<String, List<NftTraceEvent>> events = new LinkedHashMap<>();

  private KernelTraceRecorder(List<String> namespaces) {
    this.namespaces = List.copyOf(namespaces);
    namespaces.forEach(n -> events.put(n, new ArrayList<>()));
  }

  /** Installs the trace tables and starts the monitors; returns once every monitor hears. */
  public static KernelTraceRecorder start(List<String> namespaces) throws Exception {
    KernelTraceRecorder r = new KernelTraceRecorder(namespaces);
    try {
      for (String ns : namespaces) {
        r.startMonitor(ns);
      }
      for (String ns : namespaces) {
        r.installTable(ns);
      }
      r.awaitReady(Duration.ofSeconds(3));
      return r;
    } catch (Exception e) {
      r.close();
      throw e;
    }
  }

  private void installTable(String ns) {
    String reset =
        "add table inet %1$s\ndelete table inet %1$s\n".formatted(TraceWorld.TRACE_TABLE);
    Command.run(List.of("ip", "netns", "exec", ns, "nft", "-f", "-"), reset + TABLE);
  }

  private void startMonitor(String ns) throws Exception {
    Process p =
        new ProcessBuilder("ip", "netns", "exec", ns, "nft", "-a", "monitor", "trace")
            .redirectError(ProcessBuilder.Redirect.DISCARD)
            .start();
    monitors.put(ns, p);
    Thread.ofPlatform()
        .daemon()
        .name("nft-trace-" + ns)
        .start(
            () -> {
              try (BufferedReader in =
                  new BufferedReader(
                      new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = in.readLine()) != null) {
                  Optional<NftTraceEvent> e = NftTraceParser.parse(line);
                  if (e.isPresent()) {
                    List<NftTraceEvent> list = events.get(ns);
                    synchronized (list) {
                      list.add(e.get());
                      list.notifyAll();
                    }
                  }
                }
              } catch (Exception e) {
                log.debug("event=trace_monitor_ended netns={} error={}", ns, e.toString());
              }
            });
  }

  /**
   * A monitor subscribes some time after its process starts; a datagram to the namespace's own
   * loopback shows when it hears. Namespaces whose loopback is down get a grace period instead.
   */
  private void awaitReady(Duration timeout) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    List<String> waiting = new ArrayList<>(namespaces);
    while (!waiting.isEmpty() && System.nanoTime() < deadline) {
      for (String ns : List.copyOf(waiting)) {
        if (heard(ns)) {
          waiting.remove(ns);
        } else {
          ping(ns);
        }
      }
      Thread.sleep(50);
    }
    if (!waiting.isEmpty()) {
      log.debug("event=trace_monitor_not_confirmed netns={}", waiting);
    }
    drain();
  }

  private boolean heard(String ns) {
    List<NftTraceEvent> list = events.get(ns);
    synchronized (list) {
      return list.stream()
          .anyMatch(
              e ->
                  e.header()
                      .map(h -> h.dst().equals("127.0.0.1") && h.dport() == READY_PORT)
                      .orElse(false));
    }
  }

  private static void ping(String ns) {
    try {
      NetworkNamespace.call(
          NetworkNamespace.pathOf(ns),
          () -> {
            try (DatagramSocket s = new DatagramSocket()) {
              s.send(
                  new DatagramPacket(
                      new byte[1], 1, new InetSocketAddress("127.0.0.1", READY_PORT)));
            }
            return null;
          });
    } catch (Exception e) {
      // loopback down: nothing to hear, the deadline decides
    }
  }

  /**
   * The events recorded since the last drain, per namespace, after {@code quiet} has passed without
   * a new one (the kernel's events trail the packets a little).
   */
  public Map<String, List<NftTraceEvent>> drain(Duration quiet) throws InterruptedException {
    int before = -1;
    while (true) {
      Thread.sleep(quiet.toMillis());
      int now = total();
      if (now == before) {
        break;
      }
      before = now;
    }
    return drain();
  }

  private int total() {
    int n = 0;
    for (List<NftTraceEvent> list : events.values()) {
      synchronized (list) {
        n += list.size();
      }
    }
    return n;
  }

  private Map<String, List<NftTraceEvent>> drain() {
    Map<String, List<NftTraceEvent>> out = new LinkedHashMap<>();
    for (var e : events.entrySet()) {
      synchronized (e.getValue()) {
        out.put(e.getKey(), List.copyOf(e.getValue()));
        e.getValue().clear();
      }
    }
    return out;
  }

  @Override
  public void close() {
    for (Process p : monitors.values()) {
      p.destroy();
    }
    for (Process p : monitors.values()) {
      try {
        if (!p.waitFor(2, TimeUnit.SECONDS)) {
          p.destroyForcibly();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    for (String ns : namespaces) {
      Command.Result r =
          Command.exec(
              List.of(
                  "ip",
                  "netns",
                  "exec",
                  ns,
                  "nft",
                  "delete",
                  "table",
                  "inet",
                  TraceWorld.TRACE_TABLE),
              "",
              Map.of());
      if (!r.ok()) {
        log.debug("event=trace_table_not_removed netns={} stderr={}", ns, r.stderr().strip());
      }
    }
  }
}
