package dev.tweed.dataplane.nftnl;

import java.util.List;
import java.util.Optional;

/**
 * A named set, or a verdict map when {@code verdictMap}: its key's types (several make a
 * concatenation), whether rules add to it ({@code dynamic}), its elements' default timeout and a
 * comment.
 */
public record NftSet(
    String name,
    List<Type> key,
    boolean verdictMap,
    boolean dynamic,
    Optional<Long> timeoutSeconds,
    Optional<String> comment) {
  public NftSet {
    key = List.copyOf(key);
    if (key.isEmpty()) {
      throw new IllegalArgumentException("set " + name + " has no key type");
    }
  }

  /**
   * nft's data types the proxy and the policy use: nft's number for each (its {@code datatypes.h}),
   * the size of a value, and the byte order nft records for a key of that type.
   */
  public enum Type {
    IPV4_ADDR(7, 4, 2),
    IPV6_ADDR(8, 16, 2),
    INET_PROTO(12, 1, 2),
    INET_SERVICE(13, 2, 2),
    /** An interface name: 16 bytes, zero-padded, in host byte order as nft records it. */
    IFNAME(41, 16, 1);

    private final int id;
    private final int length;
    private final int byteOrder;

    Type(int id, int length, int byteOrder) {
      this.id = id;
      this.length = length;
      this.byteOrder = byteOrder;
    }

    int id() {
      return id;
    }

    int byteOrder() {
      return byteOrder;
    }
  }

  /** nft's number for the key's type: a concatenation's fields, 6 bits each. */
  int keyTypeId() {
    int id = 0;
    for (Type t : key) {
      id = (id << 6) | t.id;
    }
    return id;
  }

  /** The key's length in bytes: a concatenation's fields take 4 bytes each at least. */
  int keyLength() {
    if (key.size() == 1) {
      return key.getFirst().length;
    }
    return key.stream().mapToInt(t -> (t.length + 3) / 4 * 4).sum();
  }
}
