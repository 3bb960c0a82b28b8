package dev.tweed.cli;

import dev.tweed.model.Dataplane;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * {@code --mode iptables,nftables,ebpf | all}: the dataplanes a benchmark runs, in the order given,
 * each parsed once here.
 */
final class DataplanesOption {
  @Option(
      names = "--mode",
      defaultValue = "all",
      split = ",",
      description = "iptables, nftables and/or ebpf (comma-separated), or all (the default)")
  List<String> names;

  List<Dataplane> dataplanes() {
    if (names.equals(List.of("all"))) {
      return List.of(Dataplane.values());
    }
    List<Dataplane> out = new ArrayList<>();
    for (String n : names) {
      try {
        out.add(Dataplane.parse(n));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("--mode " + e.getMessage() + ", or all");
      }
    }
    return out;
  }
}
