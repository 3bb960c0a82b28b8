package dev.tweed.kernel;

import dev.tweed.model.IpFamily;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * One network interface as {@code ip -j -d addr} shows it.
 *
 * @param peerIfindex a veth's peer (the kernel's {@code link_index})
 * @param peerNetnsId the namespace id of the peer, as this namespace numbers it, when elsewhere
 */
public record Link(
    int ifindex,
    String name,
    String kind,
    String mac,
    boolean up,
    boolean noArp,
    Optional<String> master,
    Optional<Integer> peerIfindex,
    Optional<Integer> peerNetnsId,
    Optional<Vxlan> vxlan,
    List<IfAddress> addresses) {

  /**
   * A VXLAN device's parameters.
   *
   * @param external collect-metadata mode: the remote end and VNI of each packet come from its
   *     tunnel key (set by a tc program), not from the fdb
   */
  public record Vxlan(
      int vni, Optional<String> local, int port, Optional<String> device, boolean external) {}

  /** An address with its prefix length. */
  public record IfAddress(String address, int prefixLength) {
    @Override
    public String toString() {
      return address + "/" + prefixLength;
    }
  }

  public boolean isVeth() {
    return kind.equals("veth");
  }

  public boolean isBridge() {
    return kind.equals("bridge");
  }

  public boolean isLoopback() {
    return kind.equals("loopback");
  }

  /**
   * The first address of {@code family} that a packet leaving here may carry as its source: in
   * IPv6, not a link-local one (fe80::/10 is no source for a routed packet).
   */
  public Optional<String> firstAddress(IpFamily family) {
    return addresses.stream()
        .map(IfAddress::address)
        .filter(a -> IpFamily.of(a) == family)
        .filter(a -> !a.toLowerCase(Locale.ROOT).startsWith("fe80:"))
        .findFirst();
  }
}
