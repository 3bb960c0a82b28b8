package dev.tweed.cli;

import java.util.List;
import picocli.CommandLine.Option;

/** {@code --mode iptables,nftables,ebpf}: the dataplane modes a benchmark runs, checked once. */
final class ModesOption {
  private static final List<String> KNOWN = List.of("iptables", "nftables", "ebpf");

  @Option(
      names = "--mode",
      defaultValue = "iptables,nftables,ebpf",
      split = ",",
      description = "iptables, nftables and/or ebpf (all three by default, in one run)")
  List<String> modes;

  List<String> modes() {
    for (String mode : modes) {
      if (!KNOWN.contains(mode)) {
        throw new IllegalArgumentException(
            "--mode must be iptables, nftables or ebpf, got " + mode);
      }
    }
    return modes;
  }
}
