package dev.tweed.lab.chaos;

import dev.tweed.lab.LabState;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/** The faults a soak injects, by the name {@code --faults} takes, and which labs can have them. */
public enum FaultKind {
  /** A node's agent killed with SIGKILL, then started again as its supervisor would. */
  AGENT_KILL("agent-kill"),
  /** A node's BIRD killed with SIGKILL; the agent's supervisor restarts it (BGP labs). */
  BIRD_KILL("bird-kill"),
  /** One etcd member killed with SIGKILL and started again after a few seconds (etcd labs). */
  ETCD_KILL("etcd-kill"),
  /** A node's underlay link down for a few seconds, then up again. */
  LINK_FLAP("link-flap"),
  /** Every etcd member down for a few seconds, then all started again (etcd labs). */
  STORE_OUTAGE("store-outage");

  private final String flag;

  FaultKind(String flag) {
    this.flag = flag;
  }

  public String flag() {
    return flag;
  }

  /** Why this lab cannot have this fault, or empty when it can. */
  public Optional<String> unavailableIn(LabState lab) {
    return switch (this) {
      case BIRD_KILL ->
          lab.spec().bgp()
              ? Optional.empty()
              : Optional.of(
                  "the lab routes with "
                      + lab.spec().routing().id()
                      + ", not BGP: no BIRD to kill");
      case ETCD_KILL, STORE_OUTAGE ->
          lab.spec().etcd()
              ? Optional.empty()
              : Optional.of(
                  "the lab keeps its state in the embedded journal (a file the agents read),"
                      + " not etcd: start it with --datastore etcd");
      default -> Optional.empty();
    };
  }

  public static FaultKind parse(String flag) {
    return Arrays.stream(values())
        .filter(k -> k.flag.equals(flag))
        .findFirst()
        .orElseThrow(
            () ->
                new IllegalArgumentException(
                    "unknown fault "
                        + flag
                        + "; faults: "
                        + String.join(
                            ", ", Arrays.stream(values()).map(FaultKind::flag).toList())));
  }

  /** Every fault this lab can have. */
  public static List<FaultKind> availableIn(LabState lab) {
    return Arrays.stream(values()).filter(k -> k.unavailableIn(lab).isEmpty()).toList();
  }
}
