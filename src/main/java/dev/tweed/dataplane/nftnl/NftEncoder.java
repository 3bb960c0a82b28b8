package dev.tweed.dataplane.nftnl;

import dev.tweed.dataplane.nftnl.NftExpr.Base;
import dev.tweed.dataplane.nftnl.NftExpr.MetaKey;
import dev.tweed.dataplane.nftnl.NftExpr.Op;
import dev.tweed.dataplane.nftnl.NftMessages.BaseChain;
import dev.tweed.dataplane.nftnl.NftMessages.Element;
import dev.tweed.dataplane.nftnl.NftMessages.Hook;
import dev.tweed.dataplane.nftnl.NftMessages.Interval;
import dev.tweed.model.Cidr;
import dev.tweed.model.IpAddress;
import dev.tweed.model.IpFamily;
import dev.tweed.rules.nft.NftCommand;
import dev.tweed.rules.nft.NftElement;
import dev.tweed.rules.nft.NftStatement;
import dev.tweed.rules.nft.NftVerdict;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * Encodes nftables commands into one netlink batch: the same objects and rules nft makes of the
 * commands' script, encoded as nft encodes them (proven against {@code nft --debug=mnl} by
 * NftNetlinkIT), from the values themselves: no script is parsed.
 */
public final class NftEncoder {
  private final NftBatch batch = new NftBatch();

  /** The family of the tables the commands act on: what their network header fields read. */
  private final IpFamily family;

  /** Sets created in this batch, by name: elements and lookups refer to them by id. */
  private final Map<String, Integer> newSets = new HashMap<>();

  private NftEncoder(IpFamily family) {
    this.family = family;
  }

  /** The batch of {@code commands} on {@code family}'s tables, in their order. */
  public static NftBatch encode(IpFamily family, List<? extends NftCommand> commands) {
    NftEncoder e = new NftEncoder(family);
    for (NftCommand c : commands) {
      e.command(c);
    }
    return e.batch;
  }

  /**
   * The batch that creates {@code table} only if it does not exist: the kernel refuses it (EEXIST)
   * otherwise.
   */
  public static NftBatch createTable(IpFamily family, NftCommand.AddTable table) {
    NftBatch b = new NftBatch();
    b.add(
        () -> table.script(family),
        NftMessages.addTable(family, table.table(), table.comment(), true));
    return b;
  }

  private void command(NftCommand c) {
    String t = c.table();
    switch (c) {
      case NftCommand.AddTable a ->
          batch.add(script(a), NftMessages.addTable(family, t, a.comment()));
      case NftCommand.DeleteTable d -> batch.add(script(d), NftMessages.deleteTable(family, t));
      case NftCommand.AddChain a ->
          batch.add(
              script(a),
              NftMessages.addChain(
                  family, t, a.name(), a.hook().map(NftEncoder::baseChain), a.comment()));
      case NftCommand.AddSet a -> {
        NftSet set =
            new NftSet(
                a.name(),
                a.keyTypes().stream().map(NftEncoder::type).toList(),
                a.verdictMap(),
                a.dynamicWithTimeout(),
                a.timeoutSeconds(),
                a.comment());
        int id = batch.newSetId();
        newSets.put(a.name(), id);
        batch.add(script(a), NftMessages.addSet(family, t, set, id));
      }
      case NftCommand.AddRule r -> {
        List<NftExpr> exprs = new ArrayList<>();
        for (NftStatement s : r.statements()) {
          statement(r, s, exprs);
        }
        batch.add(script(r), NftMessages.addRule(family, t, r.chain(), exprs, r.comment()));
      }
      case NftCommand.Elements e ->
          batch.add(
              script(e),
              NftMessages.elements(
                  family,
                  t,
                  e.set(),
                  Optional.ofNullable(newSets.get(e.set())),
                  e.elements().stream().map(this::element).toList(),
                  e.delete()));
      case NftCommand.Flush f ->
          batch.add(
              script(f),
              f.kind() == NftCommand.Kind.CHAIN
                  ? NftMessages.flushChain(family, t, f.name())
                  : NftMessages.flushSet(family, t, f.name()));
      case NftCommand.Delete d ->
          batch.add(
              script(d),
              d.kind() == NftCommand.Kind.CHAIN
                  ? NftMessages.deleteChain(family, t, d.name())
                  : NftMessages.deleteSet(family, t, d.name()));
    }
  }

  /** A command's script line, printed only when a refusal names it. */
  private Supplier<String> script(NftCommand c) {
    return () -> c.script(family);
  }

  private static BaseChain baseChain(NftCommand.Hook h) {
    Optional<Integer> policy =
        h.policy()
            .map(
                p ->
                    switch (p) {
                      case "accept" -> 1;
                      case "drop" -> 0;
                      default -> throw new IllegalArgumentException("chain policy " + p);
                    });
    return new BaseChain(
        h.type(),
        Hook.valueOf(h.hook().toUpperCase(Locale.ROOT)),
        priority(h.priority().split(" ")),
        policy);
  }

  /** A priority as a number or as nft's name for one, with an offset ({@code filter - 5}). */
  static int priority(String[] words) {
    int value =
        switch (words[0]) {
          case "raw" -> -300;
          case "mangle" -> -150;
          case "dstnat" -> -100;
          case "filter" -> 0;
          case "security" -> 50;
          case "srcnat" -> 100;
          default -> Integer.parseInt(words[0]);
        };
    if (words.length == 1) {
      return value;
    }
    if (words.length != 3 || !(words[1].equals("+") || words[1].equals("-"))) {
      throw new IllegalArgumentException("priority " + String.join(" ", words));
    }
    int offset = Integer.parseInt(words[2]);
    return words[1].equals("+") ? value + offset : value - offset;
  }

  private static NftSet.Type type(String name) {
    return switch (name) {
      case "ipv4_addr" -> NftSet.Type.IPV4_ADDR;
      case "ipv6_addr" -> NftSet.Type.IPV6_ADDR;
      case "inet_proto" -> NftSet.Type.INET_PROTO;
      case "inet_service" -> NftSet.Type.INET_SERVICE;
      case "ifname" -> NftSet.Type.IFNAME;
      default -> throw new IllegalArgumentException("set key type " + name);
    };
  }

  /** One statement's expressions, left to right, as nft encodes it. */
  private void statement(NftCommand.AddRule rule, NftStatement s, List<NftExpr> out) {
    switch (s) {
      case NftStatement.DestinationServiceIn d -> {
        // A concatenation, field after field: the address (4 bytes or 16), the protocol and the
        // port after it.
        int after = addressLength() / 4;
        out.add(addressLoad(NftStatement.Address.DADDR, 1));
        out.add(new NftExpr.Meta(MetaKey.L4PROTO, register(after)));
        out.add(new NftExpr.Payload(Base.TRANSPORT, 2, 2, register(after + 1)));
        lookup(d.lookup(), out);
      }
      case NftStatement.ServicePortIn p -> {
        out.add(new NftExpr.Meta(MetaKey.L4PROTO, 1));
        out.add(new NftExpr.Payload(Base.TRANSPORT, 2, 2, 9));
        lookup(p.lookup(), out);
      }
      case NftStatement.InterfaceSourceIn i -> {
        // The name takes the 16-byte register 1, the address the next one.
        out.add(new NftExpr.Meta(MetaKey.IIFNAME, 1));
        out.add(addressLoad(NftStatement.Address.SADDR, 2));
        lookup(i.lookup(), out);
      }
      case NftStatement.InterfaceIn i -> {
        out.add(new NftExpr.Meta(i.input() ? MetaKey.IIFNAME : MetaKey.OIFNAME, 1));
        lookup(i.lookup(), out);
      }
      case NftStatement.Counter c -> out.add(new NftExpr.Counter());
      case NftStatement.Log l -> out.add(new NftExpr.Log(l.prefix(), l.group(), l.snaplen()));
      case NftStatement.SetMark m -> {
        int bits = bits(m.bits());
        switch (m.operation()) {
          case AND -> markSet(bits, 0, out);
          case OR -> markSet(~bits, bits, out);
          case XOR -> markSet(-1, bits, out);
        }
      }
      case NftStatement.MarkIs m -> {
        out.add(new NftExpr.Meta(MetaKey.MARK, 1));
        out.add(new NftExpr.Bitwise(1, 1, host32(bits(m.bits())), host32(0), true));
        out.add(new NftExpr.Cmp(1, Op.EQ, host32(bits(m.value()))));
      }
      case NftStatement.DestinationPort p -> {
        out.add(new NftExpr.Meta(MetaKey.L4PROTO, 1));
        out.add(new NftExpr.Cmp(1, Op.EQ, new byte[] {(byte) protocol(p.protocol())}));
        out.add(new NftExpr.Payload(Base.TRANSPORT, 2, 2, 1));
        if (p.from() == p.to()) {
          out.add(new NftExpr.Cmp(1, Op.EQ, be16(p.from())));
        } else {
          out.add(new NftExpr.Cmp(1, Op.GTE, be16(p.from())));
          out.add(new NftExpr.Cmp(1, Op.LTE, be16(p.to())));
        }
      }
      case NftStatement.AddressIn a -> {
        out.add(addressLoad(a.address(), 1));
        lookup(a.set(), out);
      }
      case NftStatement.AddressIs a -> addressIs(rule, a, out);
      case NftStatement.CtState c -> {
        int bits = 0;
        for (String state : c.states()) {
          bits |=
              switch (state) {
                case "invalid" -> 1;
                case "established" -> 2;
                case "related" -> 4;
                case "new" -> 8;
                case "untracked" -> 64;
                default -> throw new IllegalArgumentException("ct state " + state);
              };
        }
        out.add(new NftExpr.CtState(1));
        out.add(new NftExpr.Bitwise(1, 1, host32(bits), host32(0)));
        out.add(new NftExpr.Cmp(1, Op.NEQ, host32(0)));
      }
      case NftStatement.Icmpv6Type i -> {
        if (family != IpFamily.IPV6) {
          throw new IllegalArgumentException("icmpv6 in an IPv4 table: " + rule.script(family));
        }
        out.add(new NftExpr.Meta(MetaKey.L4PROTO, 1));
        out.add(new NftExpr.Cmp(1, Op.EQ, new byte[] {58}));
        out.add(new NftExpr.Payload(Base.TRANSPORT, 0, 1, 1));
        out.add(new NftExpr.Cmp(1, Op.EQ, new byte[] {(byte) i.number()}));
      }
      case NftStatement.L4Protocol p -> {
        out.add(new NftExpr.Meta(MetaKey.L4PROTO, 1));
        out.add(new NftExpr.Cmp(1, Op.EQ, new byte[] {(byte) protocol(p.protocol())}));
      }
      case NftStatement.SourceIsLocal f -> {
        out.add(new NftExpr.FibSourceType(1));
        out.add(new NftExpr.Cmp(1, Op.EQ, host32(2))); // RTN_LOCAL
      }
      case NftStatement.Dnat d -> {
        out.add(new NftExpr.Immediate(1, address(d.ip())));
        out.add(new NftExpr.Immediate(2, be16(d.port())));
        out.add(new NftExpr.Dnat(NftMessages.nfproto(family), 1, 2));
      }
      case NftStatement.MasqueradeFullyRandom m -> out.add(new NftExpr.MasqueradeFullyRandom());
      case NftStatement.AddSourceTo u -> {
        out.add(addressLoad(NftStatement.Address.SADDR, 1));
        out.add(new NftExpr.SetUpdate(u.set(), 1));
      }
      case NftStatement.RandomVerdict r -> randomVerdict(rule, r, out);
      case NftStatement.Reject r -> out.add(new NftExpr.Reject(family == IpFamily.IPV4 ? 3 : 4));
      case NftStatement.Verdict v -> out.add(verdict(v.verdict()));
    }
  }

  private static NftExpr verdict(NftVerdict v) {
    return switch (v.kind()) {
      case JUMP -> NftExpr.Verdict.jump(v.chain().orElseThrow());
      case GOTO -> NftExpr.Verdict.goTo(v.chain().orElseThrow());
      case RETURN -> NftExpr.Verdict.of(NftExpr.Verdict.RETURN);
      case DROP -> NftExpr.Verdict.of(NftExpr.Verdict.DROP);
      case ACCEPT -> NftExpr.Verdict.of(NftExpr.Verdict.ACCEPT);
    };
  }

  private static NftMessages.Verdict elementVerdict(NftVerdict v) {
    return switch (v.kind()) {
      case JUMP -> NftMessages.Verdict.jump(v.chain().orElseThrow());
      case GOTO -> NftMessages.Verdict.goTo(v.chain().orElseThrow());
      case RETURN -> NftMessages.Verdict.of(-5);
      case DROP -> NftMessages.Verdict.of(0);
      case ACCEPT -> NftMessages.Verdict.of(1);
    };
  }

  /** Where the family's network header holds an address: IPv4's at 12 and 16, IPv6's at 8, 24. */
  private int offset(NftStatement.Address a) {
    if (family == IpFamily.IPV4) {
      return a == NftStatement.Address.DADDR ? 16 : 12;
    }
    return a == NftStatement.Address.DADDR ? 24 : 8;
  }

  /**
   * The register that holds a concatenation's data from its {@code word}th 4-byte word on, as nft
   * numbers it: a 16-byte register's number (1 to 4) where the word starts one, a 4-byte register's
   * (8 to 23) elsewhere.
   */
  private static int register(int word) {
    return word % 4 == 0 ? 1 + word / 4 : 8 + word;
  }

  private int addressLength() {
    return family.bits() / 8;
  }

  /** The whole address loaded into {@code register}. */
  private NftExpr addressLoad(NftStatement.Address a, int register) {
    return new NftExpr.Payload(Base.NETWORK, offset(a), addressLength(), register);
  }

  /** An address of the table's family in network byte order; another family's is refused. */
  private byte[] address(String ip) {
    IpAddress a = IpAddress.parse(ip);
    if (a.family() != family) {
      throw new IllegalArgumentException(
          "an " + a.family().apiName() + " address in an " + family.apiName() + " table: " + ip);
    }
    return a.bytes();
  }

  /** A lookup of the key loaded into register 1 in a named set or verdict map. */
  private void lookup(NftStatement.Lookup l, List<NftExpr> out) {
    switch (l) {
      case NftStatement.InSet s ->
          out.add(
              new NftExpr.Lookup(
                  s.set(),
                  Optional.ofNullable(newSets.get(s.set())),
                  1,
                  Optional.empty(),
                  s.not()));
      case NftStatement.Vmap m ->
          out.add(
              new NftExpr.Lookup(
                  m.map(), Optional.ofNullable(newSets.get(m.map())), 1, Optional.of(0), false));
    }
  }

  /** {@code ip saddr|daddr [!=] VALUE}, or several CIDRs as an anonymous interval set. */
  private void addressIs(NftCommand.AddRule rule, NftStatement.AddressIs a, List<NftExpr> out) {
    if (a.values().size() > 1) {
      addressIntervals(rule, a.address(), a.values(), a.not(), out);
      return;
    }
    Cidr c = cidr(a.values().getFirst());
    if (c.prefixLength() == 0) {
      throw new IllegalArgumentException("prefix /0 in " + rule.script(family));
    }
    Op op = a.not() ? Op.NEQ : Op.EQ;
    byte[] base = address(c.baseAddress());
    if (c.prefixLength() % 8 != 0) {
      // nft loads the address whole, masks it and compares.
      out.add(addressLoad(a.address(), 1));
      out.add(new NftExpr.Bitwise(1, 1, mask(c.prefixLength()), new byte[base.length]));
      out.add(new NftExpr.Cmp(1, op, base));
      return;
    }
    // nft loads only the prefix's bytes and compares them.
    int bytes = c.prefixLength() / 8;
    out.add(new NftExpr.Payload(Base.NETWORK, offset(a.address()), bytes, 1));
    out.add(new NftExpr.Cmp(1, op, Arrays.copyOf(base, bytes)));
  }

  /** A CIDR or an address (a host prefix) of the table's family. */
  private Cidr cidr(String value) {
    Cidr c = Cidr.parse(value.contains("/") ? value : value + "/" + family.bits());
    address(c.baseAddress()); // of the table's family
    return c;
  }

  /** The network mask of a prefix, as many bytes as the family's addresses. */
  private byte[] mask(int prefixLength) {
    byte[] m = new byte[addressLength()];
    for (int i = 0; i < prefixLength; i++) {
      m[i / 8] |= (byte) (0x80 >>> (i % 8));
    }
    return m;
  }

  /**
   * Several CIDRs: an anonymous interval set, as nft writes it. The ranges are merged and sorted;
   * each starts with its first address and ends with an interval-end element at the address after
   * its last (none after the family's last address), and a leading end at the family's first
   * address closes the gap before the first range.
   */
  private void addressIntervals(
      NftCommand.AddRule rule,
      NftStatement.Address field,
      List<String> cidrs,
      boolean not,
      List<NftExpr> out) {
    BigInteger last = BigInteger.ONE.shiftLeft(family.bits()).subtract(BigInteger.ONE);
    List<BigInteger[]> ranges = new ArrayList<>();
    for (String s : cidrs) {
      Cidr c = cidr(s);
      BigInteger first = new BigInteger(1, address(c.baseAddress()));
      BigInteger size = BigInteger.ONE.shiftLeft(family.bits() - c.prefixLength());
      ranges.add(new BigInteger[] {first, first.add(size).subtract(BigInteger.ONE)});
    }
    ranges.sort(Comparator.comparing(r -> r[0]));
    List<BigInteger[]> merged = new ArrayList<>();
    for (BigInteger[] r : ranges) {
      if (!merged.isEmpty() && r[0].compareTo(merged.getLast()[1].add(BigInteger.ONE)) <= 0) {
        merged.getLast()[1] = merged.getLast()[1].max(r[1]);
      } else {
        merged.add(r);
      }
    }
    List<Element> elements = new ArrayList<>();
    if (merged.getFirst()[0].signum() != 0) {
      elements.add(interval(BigInteger.ZERO, Interval.END));
    }
    for (BigInteger[] r : merged) {
      if (r[1].equals(last)) {
        elements.add(interval(r[0], Interval.OPEN));
      } else {
        elements.add(interval(r[0], Interval.START));
        elements.add(interval(r[1].add(BigInteger.ONE), Interval.END));
      }
    }
    // nft's size counts the end an open range has not got.
    int size = elements.size() + (elements.getLast().interval() == Interval.OPEN ? 1 : 0);
    int id = batch.newSetId();
    boolean source = field == NftStatement.Address.SADDR;
    String table = rule.table();
    batch.add(
        () -> rule.script(family) + " (its set)",
        NftMessages.addAnonymousAddressIntervals(family, table, id, size, source));
    batch.add(
        () -> rule.script(family) + " (its set's elements)",
        NftMessages.elements(
            family, table, NftMessages.ANONYMOUS_SET, Optional.of(id), elements, false));
    out.add(addressLoad(field, 1));
    out.add(
        new NftExpr.Lookup(NftMessages.ANONYMOUS_SET, Optional.of(id), 1, Optional.empty(), not));
  }

  /** An interval element at {@code address}, as many bytes as the family's addresses. */
  private Element interval(BigInteger address, Interval kind) {
    byte[] raw = address.toByteArray();
    byte[] bytes = new byte[addressLength()];
    int n = Math.min(raw.length, bytes.length);
    System.arraycopy(raw, raw.length - n, bytes, bytes.length - n, n);
    return new Element(List.of(bytes), Optional.empty(), Optional.empty(), kind);
  }

  private static void markSet(int mask, int xor, List<NftExpr> out) {
    out.add(new NftExpr.Meta(MetaKey.MARK, 1));
    out.add(new NftExpr.Bitwise(1, 1, host32(mask), host32(xor), true));
    out.add(new NftExpr.MetaSet(MetaKey.MARK, 1));
  }

  /** {@code numgen random mod N vmap { 0 : V0 , ... }}: an anonymous verdict map. */
  private void randomVerdict(
      NftCommand.AddRule rule, NftStatement.RandomVerdict r, List<NftExpr> out) {
    List<Element> elements = new ArrayList<>();
    for (int i = 0; i < r.verdicts().size(); i++) {
      elements.add(
          new Element(List.of(host32(i)), Optional.of(elementVerdict(r.verdicts().get(i)))));
    }
    int id = batch.newSetId();
    String table = rule.table();
    batch.add(
        () -> rule.script(family) + " (its map)",
        NftMessages.addAnonymousVerdictMap(family, table, id, elements.size()));
    batch.add(
        () -> rule.script(family) + " (its map's elements)",
        NftMessages.elements(
            family, table, NftMessages.ANONYMOUS_MAP, Optional.of(id), elements, false));
    out.add(new NftExpr.RandomNumber(1, r.verdicts().size()));
    out.add(
        new NftExpr.Lookup(NftMessages.ANONYMOUS_MAP, Optional.of(id), 1, Optional.of(0), false));
  }

  private Element element(NftElement e) {
    List<byte[]> fields = new ArrayList<>();
    for (NftElement.Field f : e.key()) {
      fields.add(
          switch (f) {
            case NftElement.Address a -> address(a.ip());
            case NftElement.Protocol p -> new byte[] {(byte) protocol(p.name())};
            case NftElement.Port p -> be16(p.port());
            case NftElement.Interface i ->
                Arrays.copyOf(i.name().getBytes(StandardCharsets.UTF_8), 16);
          });
    }
    return new Element(fields, e.verdict().map(NftEncoder::elementVerdict), e.comment());
  }

  /** A 32-bit mark value as written ({@code 0xfffeffff}, {@code 0x4000}, {@code 0}). */
  private static int bits(String value) {
    return (int) Long.decode(value).longValue();
  }

  static int protocol(String name) {
    return switch (name) {
      case "tcp" -> 6;
      case "udp" -> 17;
      case "sctp" -> 132;
      default -> throw new IllegalArgumentException("protocol " + name);
    };
  }

  private static byte[] be16(int v) {
    return ByteBuffer.allocate(2).order(ByteOrder.BIG_ENDIAN).putShort((short) v).array();
  }

  /** A 32-bit value as the kernel's registers hold meta and ct keys: host byte order. */
  private static byte[] host32(int v) {
    return ByteBuffer.allocate(4).order(ByteOrder.nativeOrder()).putInt(v).array();
  }
}
