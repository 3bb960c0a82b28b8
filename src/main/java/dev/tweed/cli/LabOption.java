package dev.tweed.cli;

import dev.tweed.lab.LabLayout;
import dev.tweed.lab.service.LabService;
import picocli.CommandLine.Option;

/** The lab a command acts on: {@code --lab NAME}, else {@code $TWEED_LAB}, else "lab". */
public final class LabOption {
  @Option(names = "--lab", description = "Lab name (default: $TWEED_LAB or 'lab').")
  String name;

  public LabLayout layout() {
    String n = name != null ? name : System.getenv().getOrDefault("TWEED_LAB", "lab");
    return LabLayout.of(n);
  }

  /** The lab's operations; the lab must be up. */
  public LabService service() {
    return LabService.of(layout());
  }
}
