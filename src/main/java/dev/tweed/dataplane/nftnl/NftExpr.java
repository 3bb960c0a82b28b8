package dev.tweed.dataplane.nftnl;

import dev.tweed.sys.NetlinkMessage;
import java.nio.ByteBuffer;
import java.util.Optional;

/**
 * One nf_tables expression of a rule, as the kernel runs it: what {@code nft --debug=netlink}
 * prints between brackets ({@code [ payload load 4b @ network header + 16 => reg 1 ]}). Each
 * encodes its own attributes; registers are the kernel's numbers (0 the verdict, 1 to 4 the 16-byte
 * ones, 8 to 23 the 4-byte ones).
 */
public sealed interface NftExpr {
  int NLA_F_NESTED = NetlinkMessage.NLA_F_NESTED;

  /** The expression's name, as the kernel registers it. */
  String name();

  /** Writes the expression's attributes (inside its NFTA_EXPR_DATA). */
  void encode(NetlinkMessage m);

  /** Header bases of a payload load. */
  enum Base {
    LINK,
    NETWORK,
    TRANSPORT
  }

  /** Loads {@code len} bytes at {@code offset} of a header into register {@code dreg}. */
  record Payload(Base base, int offset, int len, int dreg) implements NftExpr {
    public String name() {
      return "payload";
    }

    public void encode(NetlinkMessage m) {
      m.attr(1, NftMessages.be32(dreg))
          .attr(2, NftMessages.be32(base.ordinal()))
          .attr(3, NftMessages.be32(offset))
          .attr(4, NftMessages.be32(len));
    }
  }

  /** Comparison operators, as the kernel numbers them. */
  enum Op {
    EQ,
    NEQ,
    LT,
    LTE,
    GT,
    GTE
  }

  /** Compares register {@code sreg} with {@code data}; the rule stops when it does not hold. */
  record Cmp(int sreg, Op op, byte[] data) implements NftExpr {
    public String name() {
      return "cmp";
    }

    public void encode(NetlinkMessage m) {
      m.attr(1, NftMessages.be32(sreg)).attr(2, NftMessages.be32(op.ordinal()));
      m.begin(3 | NLA_F_NESTED).attr(1, data).end();
    }
  }

  /**
   * Looks register {@code sreg} up in a set (by name, or by {@code setId} for one created in the
   * same batch): a match (or, {@code inverted}, a miss) lets the rule go on; with a verdict map,
   * {@code dreg} 0 takes the element's verdict.
   */
  record Lookup(
      String set, Optional<Integer> setId, int sreg, Optional<Integer> dreg, boolean inverted)
      implements NftExpr {
    public String name() {
      return "lookup";
    }

    public void encode(NetlinkMessage m) {
      // libnftnl's order: source and destination registers, the set's name and id, the flags.
      m.attr(2, NftMessages.be32(sreg));
      dreg.ifPresent(d -> m.attr(3, NftMessages.be32(d)));
      m.attrString(1, set);
      setId.ifPresent(id -> m.attr(4, NftMessages.be32(id)));
      if (inverted) {
        m.attr(5, NftMessages.be32(1));
      }
    }
  }

  /** Meta keys Tweed uses, with the kernel's numbers. */
  enum MetaKey {
    MARK(3),
    IIFNAME(6),
    OIFNAME(7),
    L4PROTO(16);

    final int id;

    MetaKey(int id) {
      this.id = id;
    }
  }

  /** Loads a meta key into register {@code dreg}. */
  record Meta(MetaKey key, int dreg) implements NftExpr {
    public String name() {
      return "meta";
    }

    public void encode(NetlinkMessage m) {
      m.attr(2, NftMessages.be32(key.id)).attr(1, NftMessages.be32(dreg));
    }
  }

  /** Sets a meta key from register {@code sreg}. */
  record MetaSet(MetaKey key, int sreg) implements NftExpr {
    public String name() {
      return "meta";
    }

    public void encode(NetlinkMessage m) {
      m.attr(2, NftMessages.be32(key.id)).attr(3, NftMessages.be32(sreg));
    }
  }

  /** Loads the connection's state bits (NFT_CT_STATE) into register {@code dreg}. */
  record CtState(int dreg) implements NftExpr {
    public String name() {
      return "ct";
    }

    public void encode(NetlinkMessage m) {
      m.attr(2, NftMessages.be32(0)).attr(1, NftMessages.be32(dreg));
    }
  }

  /**
   * {@code dreg = (sreg & mask) ^ xor}, over {@code mask.length} bytes. nft states the boolean
   * operation ({@code withOp}) when the script wrote one ({@code meta mark & 0x1}, {@code mark set
   * mark or 0x4000}), not when it derived the mask (ct state flags, address prefixes).
   */
  record Bitwise(int sreg, int dreg, byte[] mask, byte[] xor, boolean withOp) implements NftExpr {
    public Bitwise(int sreg, int dreg, byte[] mask, byte[] xor) {
      this(sreg, dreg, mask, xor, false);
    }

    public String name() {
      return "bitwise";
    }

    public void encode(NetlinkMessage m) {
      m.attr(1, NftMessages.be32(sreg)).attr(2, NftMessages.be32(dreg));
      if (withOp) {
        m.attr(6, NftMessages.be32(0)); // NFT_BITWISE_BOOL
      }
      m.attr(3, NftMessages.be32(mask.length));
      m.begin(4 | NLA_F_NESTED).attr(1, mask).end();
      m.begin(5 | NLA_F_NESTED).attr(1, xor).end();
    }
  }

  /** A verdict: accept, drop, return, or jump/goto a chain. */
  record Verdict(int code, Optional<String> chain) implements NftExpr {
    public static final int DROP = 0;
    public static final int ACCEPT = 1;
    public static final int RETURN = -5;

    public static Verdict jump(String chain) {
      return new Verdict(-3, Optional.of(chain));
    }

    public static Verdict goTo(String chain) {
      return new Verdict(-4, Optional.of(chain));
    }

    public static Verdict of(int code) {
      return new Verdict(code, Optional.empty());
    }

    public String name() {
      return "immediate";
    }

    public void encode(NetlinkMessage m) {
      m.attr(1, NftMessages.be32(0))
          .begin(2 | NLA_F_NESTED)
          .begin(2 | NLA_F_NESTED)
          .attr(1, NftMessages.be32(code));
      chain.ifPresent(c -> m.attrString(2, c));
      m.end().end();
    }
  }

  /** Loads a constant into register {@code dreg}. */
  record Immediate(int dreg, byte[] data) implements NftExpr {
    public String name() {
      return "immediate";
    }

    public void encode(NetlinkMessage m) {
      m.attr(1, NftMessages.be32(dreg)).begin(2 | NLA_F_NESTED).attr(1, data).end();
    }
  }

  /**
   * Rejects with the family's port unreachable (type 0, NFT_REJECT_ICMP_UNREACH, with {@code code}:
   * ICMP's 3 or ICMPv6's 4), as nft's plain {@code reject} in an {@code ip} or {@code ip6} table.
   */
  record Reject(int code) implements NftExpr {
    public String name() {
      return "reject";
    }

    public void encode(NetlinkMessage m) {
      m.attr(1, NftMessages.be32(0)).attr(2, new byte[] {(byte) code});
    }
  }

  /** A random number below {@code modulus} into register {@code dreg}. */
  record RandomNumber(int dreg, int modulus) implements NftExpr {
    public String name() {
      return "numgen";
    }

    public void encode(NetlinkMessage m) {
      m.attr(1, NftMessages.be32(dreg))
          .attr(2, NftMessages.be32(modulus))
          .attr(3, NftMessages.be32(1))
          .attr(4, NftMessages.be32(0));
    }
  }

  /** Adds register {@code sreg}'s key to a set, or refreshes its timeout ({@code update}). */
  record SetUpdate(String set, int sreg) implements NftExpr {
    public String name() {
      return "dynset";
    }

    public void encode(NetlinkMessage m) {
      m.attr(4, NftMessages.be32(sreg)).attr(3, NftMessages.be32(1)).attrString(1, set);
    }
  }

  /**
   * Destination NAT to the address in {@code addrReg} and the port in {@code portReg}, of the
   * netfilter family {@code nfproto} (the port given: NF_NAT_RANGE_PROTO_SPECIFIED).
   */
  record Dnat(int nfproto, int addrReg, int portReg) implements NftExpr {
    public String name() {
      return "nat";
    }

    public void encode(NetlinkMessage m) {
      m.attr(1, NftMessages.be32(1))
          .attr(2, NftMessages.be32(nfproto))
          .attr(3, NftMessages.be32(addrReg))
          .attr(5, NftMessages.be32(portReg))
          .attr(7, NftMessages.be32(0x2));
    }
  }

  /**
   * The route type of the packet's source address (NFT_FIB_RESULT_ADDRTYPE, looked up by source:
   * NFTA_FIB_F_SADDR) into register {@code dreg}: {@code fib saddr type}.
   */
  record FibSourceType(int dreg) implements NftExpr {
    public String name() {
      return "fib";
    }

    public void encode(NetlinkMessage m) {
      m.attr(1, NftMessages.be32(dreg)).attr(2, NftMessages.be32(3)).attr(3, NftMessages.be32(1));
    }
  }

  /** Masquerade with a random source port (NF_NAT_RANGE_PROTO_RANDOM_FULLY). */
  record MasqueradeFullyRandom() implements NftExpr {
    public String name() {
      return "masq";
    }

    public void encode(NetlinkMessage m) {
      m.attr(1, NftMessages.be32(0x10));
    }
  }

  /** Counts packets and bytes (from zero). */
  record Counter() implements NftExpr {
    public String name() {
      return "counter";
    }

    public void encode(NetlinkMessage m) {}
  }

  /** Sends the packet to NFLOG group {@code group}, {@code snaplen} bytes of it, with a prefix. */
  record Log(String prefix, int group, int snaplen) implements NftExpr {
    public String name() {
      return "log";
    }

    public void encode(NetlinkMessage m) {
      m.attrString(2, prefix)
          .attr(1, ByteBuffer.allocate(2).putShort((short) group).array())
          .attr(3, NftMessages.be32(snaplen));
    }
  }
}
