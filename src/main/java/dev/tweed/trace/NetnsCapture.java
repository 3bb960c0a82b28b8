package dev.tweed.trace;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.tweed.kernel.NetnsDump;
import dev.tweed.model.Json;
import dev.tweed.sys.Command;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Reads a network namespace's state with the kernel's own tools ({@code ip -j}, {@code bridge -j},
 * {@code iptables-save}, {@code ipset save}, {@code nft -j}, {@code sysctl}, {@code ss}), and
 * writes or reads it as a directory of files, one per tool.
 */
public final class NetnsCapture {
  private static final String SYSCTLS =
      "^net\\.(ipv4\\.(ip_forward|icmp_echo_ignore_all|conf\\..*\\.(rp_filter|proxy_arp|"
          + "send_redirects|forwarding|accept_local|route_localnet|arp_ignore|accept_redirects))"
          + "|ipv6\\.conf\\..*\\.(forwarding|disable_ipv6|accept_ra|proxy_ndp)"
          + "|bridge\\..*)$";

  private NetnsCapture() {}

  /** The files of one namespace; {@code netns} empty = the namespace this process runs in. */
  public static Map<String, String> capture(Optional<String> netns) {
    return capture(netns, Optional.empty());
  }

  /**
   * As above, with the eBPF datapath's maps pinned under {@code bpfPins} (the node agent's {@code
   * --bpf-pin-dir}), where the namespace runs it.
   */
  public static Map<String, String> capture(Optional<String> netns, Optional<Path> bpfPins) {
    Map<String, String> files = captureKernel(netns);
    files.put(NetnsDump.TC_PROGRAMS, run(netns, "bpftool", "-j", "net", "show"));
    bpfPins.filter(Files::isDirectory).ifPresent(p -> files.put(NetnsDump.BPF_MAPS, bpfMaps(p)));
    return files;
  }

  /** Maps that hold no state a packet's path depends on: counters and the event ring. */
  private static final Set<String> NOT_PATH_STATE = Set.of("tw_counts", "tw_events");

  /**
   * Every Tweed map under {@code pins} as {@code bpftool -j map dump} prints it, and the moment of
   * the dump on CLOCK_MONOTONIC (the programs' clock: affinity and conntrack ages are read against
   * it).
   */
  private static String bpfMaps(Path pins) {
    var root = JsonNodeFactory.instance.objectNode();
    root.put("monotonicNanos", System.nanoTime());
    var maps = root.putObject("maps");
    try (var files = Files.list(pins)) {
      for (Path p : files.sorted().toList()) {
        String name = p.getFileName().toString();
        if (!name.startsWith("tw_") || NOT_PATH_STATE.contains(name)) {
          continue;
        }
        String dump = run(Optional.empty(), "bpftool", "-j", "map", "dump", "pinned", p.toString());
        maps.set(name, dump.isBlank() ? maps.arrayNode() : Json.parse(dump));
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return root.toString();
  }

  private static Map<String, String> captureKernel(Optional<String> netns) {
    Map<String, String> files = new LinkedHashMap<>();
    files.put(NetnsDump.NAME, netns.orElse("host") + "\n");
    files.put(NetnsDump.ADDR, run(netns, "ip", "-j", "-d", "addr", "show"));
    files.put(NetnsDump.ROUTE, run(netns, "ip", "-4", "-j", "route", "show", "table", "all"));
    files.put(NetnsDump.ROUTE6, run(netns, "ip", "-6", "-j", "route", "show", "table", "all"));
    files.put(NetnsDump.RULE, run(netns, "ip", "-4", "-j", "rule", "show"));
    files.put(NetnsDump.RULE6, run(netns, "ip", "-6", "-j", "rule", "show"));
    files.put(NetnsDump.NEIGH, run(netns, "ip", "-4", "-j", "neigh", "show"));
    files.put(NetnsDump.NEIGH6, run(netns, "ip", "-6", "-j", "neigh", "show"));
    files.put(NetnsDump.NEIGH_PROXY, run(netns, "ip", "-4", "-j", "neigh", "show", "proxy"));
    files.put(NetnsDump.FDB, run(netns, "bridge", "-j", "fdb", "show"));
    files.put(NetnsDump.IPTABLES, run(netns, "iptables-save"));
    files.put(NetnsDump.IP6TABLES, run(netns, "ip6tables-save"));
    files.put(NetnsDump.IPSET, run(netns, "ipset", "save"));
    files.put(NetnsDump.NFT, run(netns, "nft", "-j", "list", "ruleset"));
    files.put(NetnsDump.SYSCTL, run(netns, "sysctl", "-a", "-r", SYSCTLS));
    files.put(NetnsDump.LISTENERS, run(netns, "ss", "-Hlntu"));
    files.put(
        NetnsDump.RECENT,
        run(
            netns,
            "sh",
            "-c",
            "cd /proc/net/xt_recent 2>/dev/null || exit 0; for f in *; do [ -f \"$f\" ] &&"
                + " { echo \"== $f\"; cat \"$f\"; }; done"));
    files.put(NetnsDump.NSIDS, run(netns, "ip", "-j", "netns", "list-id"));
    return files;
  }

  /** A tool that is missing or fails leaves its file empty: the model treats it as absent. */
  private static String run(Optional<String> netns, String... cmd) {
    List<String> argv = new ArrayList<>();
    netns.ifPresent(n -> argv.addAll(List.of("ip", "netns", "exec", n)));
    argv.addAll(List.of(cmd));
    try {
      Command.Result r = Command.exec(argv, "", Map.of());
      return r.ok() ? r.stdout() : "";
    } catch (UncheckedIOException absent) {
      return "";
    }
  }

  public static void write(Path dir, Map<String, String> files) {
    try {
      Files.createDirectories(dir);
      for (var e : files.entrySet()) {
        Files.writeString(dir.resolve(e.getKey()), e.getValue());
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public static Map<String, String> read(Path dir) {
    Map<String, String> files = new LinkedHashMap<>();
    try {
      for (String f : NetnsDump.FILES) {
        Path p = dir.resolve(f);
        if (Files.exists(p)) {
          files.put(f, Files.readString(p));
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    if (!files.containsKey(NetnsDump.ADDR)) {
      throw new IllegalArgumentException(dir + " holds no capture (no " + NetnsDump.ADDR + ")");
    }
    return files;
  }
}
