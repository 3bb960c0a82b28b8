package dev.tweed.calc;

import dev.tweed.model.Cidr;
import dev.tweed.model.IpamBlock;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;

/**
 * A node's VXLAN tunnel endpoint identity, derived rather than stored: the MAC from a hash of the
 * node name (locally administered, unicast), the address from the first address of the node's first
 * block (which IPAM never hands to a pod), as Flannel uses its subnet's first address.
 */
public final class VtepIdentity {
  private VtepIdentity() {}

  public static String mac(String nodeName) {
    try {
      byte[] h =
          MessageDigest.getInstance("SHA-256").digest(nodeName.getBytes(StandardCharsets.UTF_8));
      h[0] = (byte) ((h[0] & 0xfc) | 0x02);
      return HexFormat.ofDelimiter(":").formatHex(h, 0, 6);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The tunnel address: empty until the node holds a block. */
  public static Optional<String> address(String nodeName, List<IpamBlock> blocks) {
    return blocks.stream()
        .filter(b -> b.node().equals(nodeName))
        .map(IpamBlock::cidr)
        .min(Comparator.naturalOrder())
        .map(Cidr::baseAddress);
  }
}
