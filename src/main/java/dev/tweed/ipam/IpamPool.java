package dev.tweed.ipam;

import dev.tweed.model.Cidr;

/** The pod address pool and the size of the blocks nodes claim from it. */
public record IpamPool(Cidr cidr, int blockPrefixLength) {
  public IpamPool {
    if (blockPrefixLength < cidr.prefixLength() || blockPrefixLength > 30) {
      throw new IllegalArgumentException(
          "block size /" + blockPrefixLength + " does not fit pool " + cidr);
    }
  }

  public long blockCount() {
    return 1L << (blockPrefixLength - cidr.prefixLength());
  }

  public Cidr block(long index) {
    return new Cidr(cidr.base() + (int) (index << (32 - blockPrefixLength)), blockPrefixLength);
  }
}
