package dev.tweed.ipam;

import dev.tweed.model.Cidr;
import dev.tweed.model.IpFamily;

/**
 * One family's pod address pool and the size of the blocks nodes claim from it: /26 for IPv4 and
 * /122 for IPv6 by default (64 addresses each, as Calico's).
 */
public record IpamPool(Cidr cidr, int blockPrefixLength) {
  public static final int DEFAULT_V4_BLOCK = 26;
  public static final int DEFAULT_V6_BLOCK = 122;

  public IpamPool {
    int bits = cidr.family().bits();
    if (blockPrefixLength < cidr.prefixLength() || blockPrefixLength > bits - 2) {
      throw new IllegalArgumentException(
          "block size /" + blockPrefixLength + " does not fit pool " + cidr);
    }
    if (bits - blockPrefixLength > 20) {
      throw new IllegalArgumentException(
          "block size /"
              + blockPrefixLength
              + " is too large: a block holds at most 2^20 addresses");
    }
  }

  /** A pool with its family's default block size. */
  public static IpamPool withDefaultBlocks(Cidr cidr) {
    return new IpamPool(cidr, cidr.family() == IpFamily.IPV4 ? DEFAULT_V4_BLOCK : DEFAULT_V6_BLOCK);
  }

  public IpFamily family() {
    return cidr.family();
  }

  /** How many blocks, saturated at {@link Long#MAX_VALUE} for a large IPv6 pool. */
  public long blockCount() {
    int blockBits = blockPrefixLength - cidr.prefixLength();
    return blockBits >= 63 ? Long.MAX_VALUE : 1L << blockBits;
  }

  public Cidr block(long index) {
    int hostBits = cidr.family().bits() - blockPrefixLength;
    return new Cidr(cidr.base().plus(index << hostBits), blockPrefixLength);
  }
}
