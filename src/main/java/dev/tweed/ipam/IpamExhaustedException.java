package dev.tweed.ipam;

/** No free address in the node's blocks and no free block in the pool. */
public final class IpamExhaustedException extends Exception {
  public IpamExhaustedException(String message) {
    super(message);
  }
}
