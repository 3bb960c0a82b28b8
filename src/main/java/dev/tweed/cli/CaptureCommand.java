package dev.tweed.cli;

import dev.tweed.trace.NetnsCapture;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code tweed capture}: a namespace's network state as files, for {@code trace --dump}. */
@Command(
    name = "capture",
    description =
        "Write a network namespace's state (ip -j addr/link/route/rule/neigh, bridge fdb,"
            + " iptables-save, nft -j, ipset save, sysctls, listeners, attached BPF programs and"
            + " Tweed's eBPF maps) to a directory.")
final class CaptureCommand implements Callable<Integer> {
  @Option(
      names = "--netns",
      description = "A named namespace (ip netns); default: the one this process runs in.")
  String netns;

  @Option(names = "--out", required = true, description = "Directory to write.")
  Path out;

  @Option(
      names = "--bpf-pin-dir",
      defaultValue = "/sys/fs/bpf/tweed",
      description =
          "Where the node's agent pins the eBPF datapath's maps (its --bpf-pin-dir); dumped with"
              + " bpftool when it exists (default: ${DEFAULT-VALUE}).")
  Path bpfPins;

  @Override
  public Integer call() {
    NetnsCapture.write(out, NetnsCapture.capture(Optional.ofNullable(netns), Optional.of(bpfPins)));
    System.out.println("captured " + (netns == null ? "this namespace" : netns) + " into " + out);
    return 0;
  }
}
