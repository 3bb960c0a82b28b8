package dev.tweed.trace.bpf;

import java.util.Optional;

/** What a tc program returns: the packet's next step. */
public sealed interface TcAction {
  /**
   * TC_ACT_OK: on through the kernel's stack.
   *
   * @param hostType the program told the stack the frame is for this host ({@code
   *     bpf_skb_change_type(PACKET_HOST)}), whatever MAC it was addressed to
   * @param tunnel the tunnel key it set (the VXLAN device encapsulates to its remote)
   */
  record Pass(String why, boolean hostType, Optional<TunnelKey> tunnel) implements TcAction {}

  /** {@code bpf_redirect_peer}: straight into the veth peer's namespace, as received there. */
  record RedirectPeer(int ifindex) implements TcAction {}

  /** {@code bpf_redirect}: out of device {@code ifindex} (its egress), with a tunnel key or not. */
  record Redirect(int ifindex, Optional<TunnelKey> tunnel) implements TcAction {}

  /** {@code bpf_redirect_neigh}: out of {@code ifindex} to next hop {@code nexthop}. */
  record RedirectNeigh(int ifindex, String nexthop, String route) implements TcAction {}

  /** TC_ACT_SHOT, counted under {@code reason} (as {@code tw_counts} names it). */
  record Drop(String reason, String why) implements TcAction {}

  /** The program answers with an ICMP port unreachable from the frontend, and drops the packet. */
  record Reject(String why) implements TcAction {}

  /** The VXLAN tunnel key a program set: the remote end and the VNI (the sender's identity). */
  record TunnelKey(String remote, int vni) {}
}
