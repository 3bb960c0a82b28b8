package dev.tweed.bench;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.lab.LabLayout;
import dev.tweed.lab.LabProcesses;
import dev.tweed.lab.Namespaces;
import dev.tweed.model.Json;
import dev.tweed.sys.Command;
import java.io.IOException;
import java.io.PrintStream;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * TCP throughput with iperf3: pod to pod across nodes (through VXLAN) against a bare veth pair
 * between two namespaces, measured back to back in the same run.
 */
public final class ThroughputBenchmark {
  private final LabLayout layout;
  private final PrintStream out;

  public ThroughputBenchmark(LabLayout layout, PrintStream out) {
    this.layout = layout;
    this.out = out;
  }

  /**
   * Bits per second from {@code clientNs} to {@code serverIp} in {@code serverNs}: the median of
   * three iperf3 runs.
   */
  public double iperf(String serverNs, String serverIp, String clientNs, int seconds) {
    ProcessBuilder pb =
        new ProcessBuilder(
            "ip", "netns", "exec", serverNs, "iperf3", "-s", "-B", serverIp, "-p", "5201");
    pb.redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD);
    Process server;
    try {
      server = pb.start();
    } catch (IOException e) {
      throw new IllegalStateException("cannot start iperf3 (install Debian's iperf3)", e);
    }
    try {
      // This machine's cores are shared: one run moves by 10-20% from the next, so each figure
      // is the median of three runs against the same server.
      double[] runs = new double[3];
      for (int i = 0; i < runs.length; i++) {
        runs[i] = client(serverIp, clientNs, seconds);
      }
      Arrays.sort(runs);
      return runs[1];
    } finally {
      server.destroy();
      try {
        server.waitFor();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private static double client(String serverIp, String clientNs, int seconds) {
    String last = "";
    for (int attempt = 0; attempt < 50; attempt++) {
      Command.Result r =
          Command.exec(
              List.of(
                  "ip",
                  "netns",
                  "exec",
                  clientNs,
                  "iperf3",
                  "-c",
                  serverIp,
                  "-p",
                  "5201",
                  "-t",
                  String.valueOf(seconds),
                  "-J"),
              "",
              Map.of());
      // iperf3 reports some failures (a server not listening yet) only inside its JSON.
      JsonNode j = r.stdout().isBlank() ? Json.object() : Json.parse(r.stdout());
      double bps = j.path("end").path("sum_received").path("bits_per_second").asDouble(0);
      if (r.ok() && !j.has("error") && bps > 0) {
        return bps;
      }
      last = j.path("error").asText(r.stderr());
      LabProcesses.sleep(100);
    }
    throw new IllegalStateException("iperf3 failed: " + last);
  }

  /** A veth pair between two fresh namespaces: the floor any pod network adds to. */
  public double bareVeth(int seconds) {
    String a = layout.prefix() + "veth-a";
    String b = layout.prefix() + "veth-b";
    Namespaces.add(a);
    Namespaces.add(b);
    try {
      Namespaces.batch(
          a,
          List.of(
              "link set lo up",
              "link add eth0 type veth peer name eth0 netns " + b,
              "addr add 10.99.0.1/30 dev eth0",
              "link set eth0 up"));
      Namespaces.batch(
          b, List.of("link set lo up", "addr add 10.99.0.2/30 dev eth0", "link set eth0 up"));
      return iperf(b, "10.99.0.2", a, seconds);
    } finally {
      Namespaces.delete(a);
      Namespaces.delete(b);
    }
  }

  public void report(String what, double bps) {
    out.printf("%-55s %8.2f Gbit/s%n", what, bps / 1e9);
  }
}
