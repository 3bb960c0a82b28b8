package dev.tweed.calc;

import dev.tweed.model.Cidr;
import dev.tweed.model.IpFamily;
import dev.tweed.model.IpamBlock;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;

/**
 * A node's VXLAN tunnel endpoint identity per family, derived rather than stored: the MAC from a
 * hash of the node name (locally administered, unicast; the IPv6 tunnel's from the name and the
 * family, so that the two devices never share one), the address from the first address of the
 * node's first block of that family (which IPAM never hands to a pod), as Flannel uses its subnet's
 * first address.
 */
public final class VtepIdentity {
  private VtepIdentity() {}

  public static String mac(String nodeName) {
    return mac(nodeName, IpFamily.IPV4);
  }

  public static String mac(String nodeName, IpFamily family) {
    String seed = family == IpFamily.IPV4 ? nodeName : nodeName + "/ipv6";
    try {
      byte[] h = MessageDigest.getInstance("SHA-256").digest(seed.getBytes(StandardCharsets.UTF_8));
      h[0] = (byte) ((h[0] & 0xfc) | 0x02);
      return HexFormat.ofDelimiter(":").formatHex(h, 0, 6);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The IPv4 tunnel address: empty until the node holds a block. */
  public static Optional<String> address(String nodeName, List<IpamBlock> blocks) {
    return address(nodeName, IpFamily.IPV4, blocks);
  }

  /** The tunnel address of {@code family}: empty until the node holds a block of it. */
  public static Optional<String> address(String nodeName, IpFamily family, List<IpamBlock> blocks) {
    return blocks.stream()
        .filter(b -> b.node().equals(nodeName) && b.cidr().family() == family)
        .map(IpamBlock::cidr)
        .min(Comparator.naturalOrder())
        .map(Cidr::baseAddress);
  }
}
