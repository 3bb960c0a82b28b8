package dev.tweed.cli;

import java.util.List;
import picocli.CommandLine.Option;

/** {@code --mode iptables,nftables}: the dataplane modes a benchmark runs, checked once. */
final class ModesOption {
  @Option(
      names = "--mode",
      defaultValue = "iptables,nftables",
      split = ",",
      description = "iptables and/or nftables")
  List<String> modes;

  List<String> modes() {
    for (String mode : modes) {
      if (!mode.equals("iptables") && !mode.equals("nftables")) {
        throw new IllegalArgumentException("--mode must be iptables or nftables, got " + mode);
      }
    }
    return modes;
  }
}
