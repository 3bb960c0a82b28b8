package dev.tweed.dataplane.nftnl;

import dev.tweed.model.IpFamily;
import dev.tweed.sys.NetlinkMessage;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;

/**
 * The nf_tables netlink messages Tweed sends, encoded as the kernel reads them and as {@code nft}
 * itself encodes them ({@code nft --debug=mnl} prints its messages; {@code NftMessagesTest}
 * compares the two byte for byte): tables, chains, sets and maps with their user data, and set
 * elements. Pure: no I/O.
 */
public final class NftMessages {
  private NftMessages() {}

  static final int NFNL_SUBSYS_NFTABLES = 10;
  static final int NFNL_MSG_BATCH_BEGIN = 16;
  static final int NFNL_MSG_BATCH_END = 17;
  static final int NFPROTO_IPV4 = 2;
  static final int NFPROTO_IPV6 = 10;

  /** The netfilter family number of a family's tables. */
  static int nfproto(IpFamily family) {
    return family == IpFamily.IPV4 ? NFPROTO_IPV4 : NFPROTO_IPV6;
  }

  static final int NFT_MSG_NEWTABLE = 0;
  static final int NFT_MSG_DELTABLE = 2;
  static final int NFT_MSG_NEWCHAIN = 3;
  static final int NFT_MSG_DELCHAIN = 5;
  static final int NFT_MSG_NEWSET = 9;
  static final int NFT_MSG_DELSET = 11;
  static final int NFT_MSG_NEWSETELEM = 12;
  static final int NFT_MSG_DELSETELEM = 14;

  static final int NLM_F_REQUEST = 0x1;
  static final int NLM_F_ACK = 0x4;
  static final int NLM_F_CREATE = 0x400;
  static final int NLM_F_EXCL = 0x200;
  private static final int NLA_F_NESTED = NetlinkMessage.NLA_F_NESTED;

  private static final int NFTA_TABLE_NAME = 1;
  private static final int NFTA_TABLE_FLAGS = 2;
  private static final int NFTA_TABLE_USERDATA = 6;
  private static final int NFTA_CHAIN_TABLE = 1;
  private static final int NFTA_CHAIN_NAME = 3;
  private static final int NFTA_CHAIN_HOOK = 4;
  private static final int NFTA_CHAIN_TYPE = 7;
  private static final int NFTA_CHAIN_POLICY = 5;
  private static final int NFTA_HOOK_HOOKNUM = 1;
  private static final int NFTA_HOOK_PRIORITY = 2;
  private static final int NFTA_SET_TABLE = 1;
  private static final int NFTA_SET_NAME = 2;
  private static final int NFTA_SET_FLAGS = 3;
  private static final int NFTA_SET_KEY_TYPE = 4;
  private static final int NFTA_SET_KEY_LEN = 5;
  private static final int NFTA_SET_DATA_TYPE = 6;
  private static final int NFTA_SET_DATA_LEN = 7;
  private static final int NFTA_SET_ID = 10;
  private static final int NFTA_SET_TIMEOUT = 11;
  private static final int NFTA_SET_USERDATA = 13;
  private static final int NFTA_SET_ELEM_LIST_TABLE = 1;
  private static final int NFTA_SET_ELEM_LIST_SET = 2;
  private static final int NFTA_SET_ELEM_LIST_ELEMENTS = 3;
  private static final int NFTA_SET_ELEM_LIST_SET_ID = 4;
  private static final int NFTA_LIST_ELEM = 1;
  private static final int NFTA_SET_ELEM_KEY = 1;
  private static final int NFTA_SET_ELEM_DATA = 2;
  private static final int NFTA_SET_ELEM_FLAGS = 3;
  private static final int NFT_SET_ELEM_INTERVAL_END = 0x1;
  private static final int NFTA_DATA_VALUE = 1;
  private static final int NFTA_DATA_VERDICT = 2;
  private static final int NFTA_VERDICT_CODE = 1;
  private static final int NFTA_VERDICT_CHAIN = 2;

  /** nftables' user data TLV types (libnftnl's udata): comments, and a set's byte orders. */
  private static final int UDATA_TABLE_COMMENT = 0;

  private static final int UDATA_SET_KEYBYTEORDER = 0;
  private static final int UDATA_SET_DATABYTEORDER = 1;
  private static final int UDATA_SET_KEY_TYPEOF = 3;
  private static final int UDATA_SET_DATA_INTERVAL = 6;
  private static final int UDATA_SET_COMMENT = 7;

  /** nftables' byte order of a concatenation or a verdict, as a set's user data records it. */
  private static final int BYTEORDER_INVALID = 0;

  static final int NFT_SET_MAP = 0x8;
  static final int NFT_SET_TIMEOUT = 0x10;
  static final int NFT_SET_EVAL = 0x20;
  static final int NFT_DATA_VERDICT = 0xffffff00;

  /** The netfilter hooks of chains, as the kernel numbers them. */
  public enum Hook {
    PREROUTING,
    INPUT,
    FORWARD,
    OUTPUT,
    POSTROUTING
  }

  /** A base chain's type, hook and priority. */
  public record BaseChain(String type, Hook hook, int priority, Optional<Integer> policy) {
    public BaseChain(String type, Hook hook, int priority) {
      this(type, hook, priority, Optional.empty());
    }
  }

  /**
   * A verdict a map's element leads to: {@code JUMP} or {@code GOTO} a chain (the codes are the
   * kernel's NFT_JUMP and NFT_GOTO).
   */
  public record Verdict(int code, String chain) {
    public static Verdict jump(String chain) {
      return new Verdict(-3, chain);
    }

    public static Verdict goTo(String chain) {
      return new Verdict(-4, chain);
    }

    /** A verdict without a chain: accept (1), drop (0) or return (-5); chain is empty. */
    public static Verdict of(int code) {
      return new Verdict(code, "");
    }
  }

  /**
   * One element: its key's fields (each in network byte order), a verdict for a map, and a comment.
   */
  public record Element(
      List<byte[]> key, Optional<Verdict> verdict, Optional<String> comment, Interval interval) {
    public Element {
      key = List.copyOf(key);
    }

    public Element(List<byte[]> key, Optional<Verdict> verdict, Optional<String> comment) {
      this(key, verdict, comment, Interval.NONE);
    }

    public Element(List<byte[]> key, Optional<Verdict> verdict) {
      this(key, verdict, Optional.empty());
    }
  }

  /**
   * An element's place in an interval set: none, the start of a range, the start of one that runs
   * to the last address ({@code OPEN}: nft sends no end for it and notes so), or a range's end.
   */
  public enum Interval {
    NONE,
    START,
    OPEN,
    END
  }

  private static final int NFTA_SET_ELEM_USERDATA = 6;
  private static final int UDATA_SET_ELEM_FLAGS = 1;
  private static final int UDATA_SET_ELEM_COMMENT = 0;

  static NetlinkMessage message(IpFamily family, int nftMsg, int flags) {
    return new NetlinkMessage(
            (NFNL_SUBSYS_NFTABLES << 8) | nftMsg, NLM_F_REQUEST | NLM_F_ACK | flags)
        .family(nfgenmsg(nfproto(family), 0));
  }

  /** The batch's first and last messages. */
  static NetlinkMessage batch(int type) {
    return new NetlinkMessage(type, NLM_F_REQUEST).family(nfgenmsg(0, NFNL_SUBSYS_NFTABLES));
  }

  private static ByteBuffer nfgenmsg(int family, int resId) {
    ByteBuffer b = NetlinkMessage.buffer(4).put((byte) family).put((byte) 0);
    b.order(ByteOrder.BIG_ENDIAN).putShort((short) resId);
    return b.flip();
  }

  public static NetlinkMessage addTable(IpFamily family, String table, Optional<String> comment) {
    return addTable(family, table, comment, false);
  }

  /** The table; with {@code exclusive}, refused (EEXIST) if it exists already. */
  public static NetlinkMessage addTable(
      IpFamily family, String table, Optional<String> comment, boolean exclusive) {
    NetlinkMessage m =
        message(family, NFT_MSG_NEWTABLE, NLM_F_CREATE | (exclusive ? NLM_F_EXCL : 0))
            .attrString(NFTA_TABLE_NAME, table)
            .attr(NFTA_TABLE_FLAGS, be32(0));
    comment.ifPresent(
        c -> m.attr(NFTA_TABLE_USERDATA, udata(UDATA_TABLE_COMMENT, cString(c)).toByteArray()));
    return m;
  }

  public static NetlinkMessage deleteTable(IpFamily family, String table) {
    return message(family, NFT_MSG_DELTABLE, 0).attrString(NFTA_TABLE_NAME, table);
  }

  public static NetlinkMessage addChain(
      IpFamily family, String table, String chain, Optional<BaseChain> base) {
    return addChain(family, table, chain, base, Optional.empty());
  }

  private static final int NFTA_CHAIN_USERDATA = 12;
  private static final int UDATA_CHAIN_COMMENT = 0;

  public static NetlinkMessage addChain(
      IpFamily family,
      String table,
      String chain,
      Optional<BaseChain> base,
      Optional<String> comment) {
    NetlinkMessage m =
        message(family, NFT_MSG_NEWCHAIN, NLM_F_CREATE)
            .attrString(NFTA_CHAIN_TABLE, table)
            .attrString(NFTA_CHAIN_NAME, chain);
    base.ifPresent(
        b -> {
          m.attrString(NFTA_CHAIN_TYPE, b.type());
          b.policy().ifPresent(p -> m.attr(NFTA_CHAIN_POLICY, be32(p)));
          m.begin(NFTA_CHAIN_HOOK | NLA_F_NESTED)
              .attr(NFTA_HOOK_HOOKNUM, be32(b.hook().ordinal()))
              .attr(NFTA_HOOK_PRIORITY, be32(b.priority()))
              .end();
        });
    comment.ifPresent(
        c -> m.attr(NFTA_CHAIN_USERDATA, udata(UDATA_CHAIN_COMMENT, cString(c)).toByteArray()));
    return m;
  }

  private static final int NFT_MSG_DELRULE = 8;

  /** Every rule of a chain removed (a rule deletion without a handle). */
  public static NetlinkMessage flushChain(IpFamily family, String table, String chain) {
    return named(family, NFT_MSG_DELRULE, NFTA_RULE_TABLE, table, NFTA_RULE_CHAIN, chain);
  }

  public static NetlinkMessage deleteSet(IpFamily family, String table, String set) {
    return named(family, NFT_MSG_DELSET, NFTA_SET_TABLE, table, NFTA_SET_NAME, set);
  }

  /** Every element of a set or map removed (an element deletion without elements). */
  public static NetlinkMessage flushSet(IpFamily family, String table, String set) {
    return named(
        family, NFT_MSG_DELSETELEM, NFTA_SET_ELEM_LIST_SET, set, NFTA_SET_ELEM_LIST_TABLE, table);
  }

  public static NetlinkMessage deleteChain(IpFamily family, String table, String chain) {
    return named(family, NFT_MSG_DELCHAIN, NFTA_CHAIN_TABLE, table, NFTA_CHAIN_NAME, chain);
  }

  /** A message of two string attributes, in nft's order: what it acts on, named. */
  private static NetlinkMessage named(
      IpFamily family, int msg, int firstAttr, String first, int secondAttr, String second) {
    return message(family, msg, 0).attrString(firstAttr, first).attrString(secondAttr, second);
  }

  /**
   * A named set or map. {@code id} names it within the batch, so elements added in the same batch
   * can refer to it before the kernel has it.
   */
  public static NetlinkMessage addSet(IpFamily family, String table, NftSet set, int id) {
    int flags =
        (set.verdictMap() ? NFT_SET_MAP : 0)
            | (set.timeoutSeconds().isPresent() ? NFT_SET_TIMEOUT : 0)
            | (set.dynamic() ? NFT_SET_EVAL : 0);
    NetlinkMessage m =
        message(family, NFT_MSG_NEWSET, NLM_F_CREATE)
            .attrString(NFTA_SET_TABLE, table)
            .attrString(NFTA_SET_NAME, set.name())
            .attr(NFTA_SET_FLAGS, be32(flags))
            .attr(NFTA_SET_KEY_TYPE, be32(set.keyTypeId()))
            .attr(NFTA_SET_KEY_LEN, be32(set.keyLength()));
    if (set.verdictMap()) {
      m.attr(NFTA_SET_DATA_TYPE, be32(NFT_DATA_VERDICT)).attr(NFTA_SET_DATA_LEN, be32(0));
    }
    m.attr(NFTA_SET_ID, be32(id));
    set.timeoutSeconds().ifPresent(t -> m.attr(NFTA_SET_TIMEOUT, be64(t * 1000)));
    return m.attr(NFTA_SET_USERDATA, setUserdata(set));
  }

  /**
   * nft's user data of a set: the key's byte order (and, for a map, its data's, with the key's
   * description and the data's interval flag), then the comment.
   */
  static byte[] setUserdata(NftSet set) {
    ByteArrayOutputStream u = new ByteArrayOutputStream();
    boolean concat = set.key().size() > 1;
    int keyOrder = concat ? BYTEORDER_INVALID : set.key().getFirst().byteOrder();
    u.writeBytes(udata(UDATA_SET_KEYBYTEORDER, le32(keyOrder)).toByteArray());
    if (set.verdictMap()) {
      u.writeBytes(udata(UDATA_SET_DATABYTEORDER, le32(BYTEORDER_INVALID)).toByteArray());
    }
    if (concat) {
      u.writeBytes(udata(UDATA_SET_KEY_TYPEOF, concatTypeof()).toByteArray());
    }
    if (set.verdictMap()) {
      u.writeBytes(udata(UDATA_SET_DATA_INTERVAL, le32(0)).toByteArray());
    }
    set.comment().ifPresent(c -> u.writeBytes(udata(UDATA_SET_COMMENT, cString(c)).toByteArray()));
    return u.toByteArray();
  }

  /**
   * What nft 1.0.6 records of a concatenated key, as nested user data: the same 13 for every
   * concatenation (ifname . ipv4_addr included), which nft does not read back for a typed set.
   */
  private static byte[] concatTypeof() {
    ByteArrayOutputStream u = new ByteArrayOutputStream();
    u.writeBytes(udata(0, le32(13)).toByteArray());
    u.writeBytes(udata(1, new byte[0]).toByteArray());
    return u.toByteArray();
  }

  /**
   * Elements added to (or, with {@code delete}, removed from) a set; {@code setId} is the set's id
   * when it was created in the same batch.
   */
  public static NetlinkMessage elements(
      IpFamily family,
      String table,
      String set,
      Optional<Integer> setId,
      List<Element> elements,
      boolean delete) {
    NetlinkMessage m =
        message(family, delete ? NFT_MSG_DELSETELEM : NFT_MSG_NEWSETELEM, delete ? 0 : NLM_F_CREATE)
            .attrString(NFTA_SET_ELEM_LIST_TABLE, table)
            .attrString(NFTA_SET_ELEM_LIST_SET, set);
    setId.ifPresent(id -> m.attr(NFTA_SET_ELEM_LIST_SET_ID, be32(id)));
    m.begin(NFTA_SET_ELEM_LIST_ELEMENTS | NLA_F_NESTED);
    int index = 0;
    for (Element e : elements) {
      // libnftnl numbers the list's entries from 1; the kernel reads them in order either way.
      m.begin(++index | NLA_F_NESTED);
      if (e.interval() == Interval.END) {
        m.attr(NFTA_SET_ELEM_FLAGS, be32(NFT_SET_ELEM_INTERVAL_END));
      }
      m.begin(NFTA_SET_ELEM_KEY | NLA_F_NESTED).attr(NFTA_DATA_VALUE, concatenated(e.key())).end();
      e.verdict()
          .ifPresent(
              v -> {
                m.begin(NFTA_SET_ELEM_DATA | NLA_F_NESTED)
                    .begin(NFTA_DATA_VERDICT | NLA_F_NESTED)
                    .attr(NFTA_VERDICT_CODE, be32(v.code()));
                if (!v.chain().isEmpty()) {
                  m.attrString(NFTA_VERDICT_CHAIN, v.chain());
                }
                m.end().end();
              });
      e.comment()
          .ifPresent(
              c ->
                  m.attr(
                      NFTA_SET_ELEM_USERDATA,
                      udata(UDATA_SET_ELEM_COMMENT, cString(c)).toByteArray()));
      if (e.interval() == Interval.OPEN) {
        m.attr(NFTA_SET_ELEM_USERDATA, udata(UDATA_SET_ELEM_FLAGS, le32(1)).toByteArray());
      }
      m.end();
    }
    return m.end();
  }

  private static final int NFT_MSG_NEWRULE = 6;
  private static final int NLM_F_APPEND = 0x800;
  private static final int NFTA_RULE_TABLE = 1;
  private static final int NFTA_RULE_CHAIN = 2;
  private static final int NFTA_RULE_EXPRESSIONS = 4;
  private static final int NFTA_RULE_USERDATA = 7;
  private static final int NFTA_EXPR_NAME = 1;
  private static final int NFTA_EXPR_DATA = 2;
  private static final int UDATA_RULE_COMMENT = 0;

  /** A rule appended to a chain: its expressions in order, and a comment. */
  public static NetlinkMessage addRule(
      IpFamily family,
      String table,
      String chain,
      List<NftExpr> expressions,
      Optional<String> comment) {
    NetlinkMessage m =
        message(family, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND)
            .attrString(NFTA_RULE_TABLE, table)
            .attrString(NFTA_RULE_CHAIN, chain)
            .begin(NFTA_RULE_EXPRESSIONS | NLA_F_NESTED);
    for (NftExpr e : expressions) {
      m.begin(NFTA_LIST_ELEM | NLA_F_NESTED)
          .attrString(NFTA_EXPR_NAME, e.name())
          .begin(NFTA_EXPR_DATA | NLA_F_NESTED);
      e.encode(m);
      m.end().end();
    }
    m.end();
    comment.ifPresent(
        c -> m.attr(NFTA_RULE_USERDATA, udata(UDATA_RULE_COMMENT, cString(c)).toByteArray()));
    return m;
  }

  private static final int NFT_SET_ANONYMOUS = 0x1;
  private static final int NFT_SET_CONSTANT = 0x2;
  private static final int NFTA_SET_DESC = 9;
  private static final int NFTA_SET_DESC_SIZE = 1;

  /** nft's name for an anonymous map; the kernel numbers it ({@code __map0}, ...). */
  public static final String ANONYMOUS_MAP = "__map%d";

  /**
   * The anonymous verdict map of one rule ({@code numgen random mod 2 vmap { 0 : goto a, 1 : goto b
   * }}), keyed by a 4-byte integer; its elements follow with {@link #elements} and the rule's
   * lookup refers to it by {@code id}.
   */
  public static NetlinkMessage addAnonymousVerdictMap(
      IpFamily family, String table, int id, int size) {
    return message(family, NFT_MSG_NEWSET, NLM_F_CREATE)
        .attrString(NFTA_SET_TABLE, table)
        .attrString(NFTA_SET_NAME, ANONYMOUS_MAP)
        .attr(NFTA_SET_FLAGS, be32(NFT_SET_ANONYMOUS | NFT_SET_CONSTANT | NFT_SET_MAP))
        .attr(NFTA_SET_KEY_TYPE, be32(4))
        .attr(NFTA_SET_KEY_LEN, be32(4))
        .attr(NFTA_SET_DATA_TYPE, be32(NFT_DATA_VERDICT))
        .attr(NFTA_SET_DATA_LEN, be32(0))
        .begin(NFTA_SET_DESC | NLA_F_NESTED)
        .attr(NFTA_SET_DESC_SIZE, be32(size))
        .end()
        .attr(NFTA_SET_ID, be32(id))
        .attr(NFTA_SET_USERDATA, udata(UDATA_SET_KEYBYTEORDER, le32(1)).toByteArray());
  }

  /** nft's name for an anonymous set; the kernel numbers it ({@code __set0}, ...). */
  public static final String ANONYMOUS_SET = "__set%d";

  private static final int NFT_SET_INTERVAL = 0x4;
  private static final int UDATA_SET_MERGE_ELEMENTS = 2;

  /**
   * The anonymous interval set of address ranges of one rule ({@code ip saddr != { 10.0.0.0/8,
   * 192.168.1.0/24 }}), holding {@code size} elements (starts and interval ends), with nft's record
   * of the {@code ip saddr} ({@code source}) or {@code ip daddr} expression it is matched against.
   */
  public static NetlinkMessage addAnonymousAddressIntervals(
      IpFamily family, String table, int id, int size, boolean source) {
    ByteArrayOutputStream u = new ByteArrayOutputStream();
    u.writeBytes(udata(UDATA_SET_KEYBYTEORDER, le32(2)).toByteArray());
    u.writeBytes(udata(UDATA_SET_MERGE_ELEMENTS, le32(1)).toByteArray());
    ByteArrayOutputStream payload = new ByteArrayOutputStream();
    // nft's description of the header (ip, ip6) and of its field (saddr, daddr).
    boolean v4 = family == IpFamily.IPV4;
    payload.writeBytes(udata(0, le32(v4 ? 12 : 13)).toByteArray());
    payload.writeBytes(udata(1, le32(v4 ? (source ? 11 : 12) : (source ? 8 : 9))).toByteArray());
    ByteArrayOutputStream typeof = new ByteArrayOutputStream();
    typeof.writeBytes(udata(0, le32(7)).toByteArray()); // a payload expression
    typeof.writeBytes(udata(1, payload.toByteArray()).toByteArray());
    u.writeBytes(udata(UDATA_SET_KEY_TYPEOF, typeof.toByteArray()).toByteArray());
    return message(family, NFT_MSG_NEWSET, NLM_F_CREATE)
        .attrString(NFTA_SET_TABLE, table)
        .attrString(NFTA_SET_NAME, ANONYMOUS_SET)
        .attr(NFTA_SET_FLAGS, be32(NFT_SET_ANONYMOUS | NFT_SET_CONSTANT | NFT_SET_INTERVAL))
        .attr(NFTA_SET_KEY_TYPE, be32((v4 ? NftSet.Type.IPV4_ADDR : NftSet.Type.IPV6_ADDR).id()))
        .attr(NFTA_SET_KEY_LEN, be32(v4 ? 4 : 16))
        .attr(NFTA_SET_ID, be32(id))
        .begin(NFTA_SET_DESC | NLA_F_NESTED)
        .attr(NFTA_SET_DESC_SIZE, be32(size))
        .end()
        .attr(NFTA_SET_USERDATA, u.toByteArray());
  }

  /** A concatenation's fields, each padded to 4 bytes as the kernel's registers hold them. */
  static byte[] concatenated(List<byte[]> fields) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] f : fields) {
      out.writeBytes(f);
      out.writeBytes(new byte[(4 - f.length % 4) % 4]);
    }
    return out.toByteArray();
  }

  private static ByteArrayOutputStream udata(int type, byte[] value) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.write(type);
    out.write(value.length);
    out.writeBytes(value);
    return out;
  }

  private static byte[] cString(String s) {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    byte[] z = new byte[b.length + 1];
    System.arraycopy(b, 0, z, 0, b.length);
    return z;
  }

  static byte[] be32(int v) {
    return ByteBuffer.allocate(4).order(ByteOrder.BIG_ENDIAN).putInt(v).array();
  }

  static byte[] be64(long v) {
    return ByteBuffer.allocate(8).order(ByteOrder.BIG_ENDIAN).putLong(v).array();
  }

  private static byte[] le32(int v) {
    return ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(v).array();
  }
}
