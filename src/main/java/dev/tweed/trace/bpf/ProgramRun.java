package dev.tweed.trace.bpf;

import dev.tweed.ebpf.DatapathMaps;
import dev.tweed.kernel.Packet;
import dev.tweed.kernel.netfilter.NatTranslation;
import java.util.List;
import java.util.Optional;

/**
 * One run of a program over one packet, as the model evaluates it: every map lookup in order, the
 * packet as the program leaves it, and its action. A random backend choice makes several runs, each
 * with its probability and the choice in words.
 *
 * @param hook {@code tc ingress} or {@code tc egress}
 * @param received the packet as the program received it ({@code packet}: as it leaves it)
 * @param mark the packet's mark as the program leaves it
 * @param created the connections it recorded in {@code tw_ct}
 */
public record ProgramRun(
    String program,
    String device,
    String hook,
    Packet received,
    List<MapLookup> lookups,
    Packet packet,
    TcAction action,
    double probability,
    Optional<String> choice,
    List<NatTranslation> nat,
    long mark,
    List<DatapathMaps.Connection> created) {
  public ProgramRun {
    lookups = List.copyOf(lookups);
    nat = List.copyOf(nat);
    created = List.copyOf(created);
  }

  /** The action in words, as the trace prints it. */
  public String actionText() {
    return switch (action) {
      case TcAction.Pass p ->
          "TC_ACT_OK: "
              + p.why()
              + (p.hostType() ? " (frame retyped PACKET_HOST)" : "")
              + p.tunnel()
                  .map(t -> "; tunnel key: remote " + t.remote() + ", VNI " + t.vni())
                  .orElse("");
      case TcAction.RedirectPeer r -> "bpf_redirect_peer(ifindex " + r.ifindex() + ")";
      case TcAction.Redirect r ->
          "bpf_redirect(ifindex "
              + r.ifindex()
              + ")"
              + r.tunnel()
                  .map(t -> " with tunnel key: remote " + t.remote() + ", VNI " + t.vni())
                  .orElse("");
      case TcAction.RedirectNeigh r ->
          "bpf_redirect_neigh(ifindex " + r.ifindex() + ", next hop " + r.nexthop() + ")";
      case TcAction.Drop d -> "TC_ACT_SHOT (" + d.reason() + "): " + d.why();
      case TcAction.Reject r -> "ICMP port unreachable sent back, TC_ACT_SHOT: " + r.why();
    };
  }
}
