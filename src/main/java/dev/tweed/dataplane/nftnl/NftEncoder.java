package dev.tweed.dataplane.nftnl;

import dev.tweed.dataplane.nftnl.NftExpr.Base;
import dev.tweed.dataplane.nftnl.NftExpr.MetaKey;
import dev.tweed.dataplane.nftnl.NftExpr.Op;
import dev.tweed.dataplane.nftnl.NftMessages.BaseChain;
import dev.tweed.dataplane.nftnl.NftMessages.Element;
import dev.tweed.dataplane.nftnl.NftMessages.Hook;
import dev.tweed.dataplane.nftnl.NftMessages.Interval;
import dev.tweed.model.Cidr;
import dev.tweed.model.Ipv4;
import dev.tweed.rules.nft.NftCommand;
import dev.tweed.rules.nft.NftElement;
import dev.tweed.rules.nft.NftStatement;
import dev.tweed.rules.nft.NftVerdict;
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

/**
 * Encodes nftables commands into one netlink batch: the same objects and rules nft makes of the
 * commands' script, encoded as nft encodes them (proven against {@code nft --debug=mnl} by
 * NftNetlinkIT), from the values themselves: no script is parsed.
 */
public final class NftEncoder {
  private final NftBatch batch = new NftBatch();

  /** Sets created in this batch, by name: elements and lookups refer to them by id. */
  private final Map<String, Integer> newSets = new HashMap<>();

  private NftEncoder() {}

  /** The batch of {@code commands}, in their order. */
  public static NftBatch encode(List<? extends NftCommand> commands) {
    NftEncoder e = new NftEncoder();
    for (NftCommand c : commands) {
      e.command(c);
    }
    return e.batch;
  }

  /**
   * The batch that creates {@code table} only if it does not exist: the kernel refuses it (EEXIST)
   * otherwise.
   */
  public static NftBatch createTable(NftCommand.AddTable table) {
    NftBatch b = new NftBatch();
    b.add(table::script, NftMessages.addTable(table.table(), table.comment(), true));
    return b;
  }

  private void command(NftCommand c) {
    String t = c.table();
    switch (c) {
      case NftCommand.AddTable a -> batch.add(a::script, NftMessages.addTable(t, a.comment()));
      case NftCommand.DeleteTable d -> batch.add(d::script, NftMessages.deleteTable(t));
      case NftCommand.AddChain a ->
          batch.add(
              a::script,
              NftMessages.addChain(t, a.name(), a.hook().map(NftEncoder::baseChain), a.comment()));
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
        batch.add(a::script, NftMessages.addSet(t, set, id));
      }
      case NftCommand.AddRule r -> {
        List<NftExpr> exprs = new ArrayList<>();
        for (NftStatement s : r.statements()) {
          statement(r, s, exprs);
        }
        batch.add(r::script, NftMessages.addRule(t, r.chain(), exprs, r.comment()));
      }
      case NftCommand.Elements e ->
          batch.add(
              e::script,
              NftMessages.elements(
                  t,
                  e.set(),
                  Optional.ofNullable(newSets.get(e.set())),
                  e.elements().stream().map(NftEncoder::element).toList(),
                  e.delete()));
      case NftCommand.Flush f ->
          batch.add(
              f::script,
              f.kind() == NftCommand.Kind.CHAIN
                  ? NftMessages.flushChain(t, f.name())
                  : NftMessages.flushSet(t, f.name()));
      case NftCommand.Delete d ->
          batch.add(
              d::script,
              d.kind() == NftCommand.Kind.CHAIN
                  ? NftMessages.deleteChain(t, d.name())
                  : NftMessages.deleteSet(t, d.name()));
    }
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
        out.add(new NftExpr.Payload(Base.NETWORK, 16, 4, 1));
        out.add(new NftExpr.Meta(MetaKey.L4PROTO, 9));
        out.add(new NftExpr.Payload(Base.TRANSPORT, 2, 2, 10));
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
        out.add(new NftExpr.Payload(Base.NETWORK, 12, 4, 2));
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
        out.add(new NftExpr.Payload(Base.NETWORK, offset(a.address()), 4, 1));
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
      case NftStatement.L4Protocol p -> {
        out.add(new NftExpr.Meta(MetaKey.L4PROTO, 1));
        out.add(new NftExpr.Cmp(1, Op.EQ, new byte[] {(byte) protocol(p.protocol())}));
      }
      case NftStatement.SourceIsLocal f -> {
        out.add(new NftExpr.FibSourceType(1));
        out.add(new NftExpr.Cmp(1, Op.EQ, host32(2))); // RTN_LOCAL
      }
      case NftStatement.Dnat d -> {
        out.add(new NftExpr.Immediate(1, address(Ipv4.parse(d.ip()))));
        out.add(new NftExpr.Immediate(2, be16(d.port())));
        out.add(new NftExpr.Dnat(1, 2));
      }
      case NftStatement.MasqueradeFullyRandom m -> out.add(new NftExpr.MasqueradeFullyRandom());
      case NftStatement.AddSourceTo u -> {
        out.add(new NftExpr.Payload(Base.NETWORK, 12, 4, 1));
        out.add(new NftExpr.SetUpdate(u.set(), 1));
      }
      case NftStatement.RandomVerdict r -> randomVerdict(rule, r, out);
      case NftStatement.Reject r -> out.add(new NftExpr.Reject());
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

  private static int offset(NftStatement.Address a) {
    return a == NftStatement.Address.DADDR ? 16 : 12;
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
    int offset = offset(a.address());
    if (a.values().size() > 1) {
      addressIntervals(rule, offset, a.values(), a.not(), out);
      return;
    }
    String v = a.values().getFirst();
    Cidr c = Cidr.parse(v.contains("/") ? v : v + "/32");
    if (c.prefixLength() == 0) {
      throw new IllegalArgumentException("prefix /0 in " + rule.script());
    }
    Op op = a.not() ? Op.NEQ : Op.EQ;
    if (c.prefixLength() % 8 != 0) {
      // nft loads the address whole, masks it and compares.
      out.add(new NftExpr.Payload(Base.NETWORK, offset, 4, 1));
      int mask = (int) (0xffffffffL << (32 - c.prefixLength()));
      out.add(new NftExpr.Bitwise(1, 1, address(mask), new byte[4]));
      out.add(new NftExpr.Cmp(1, op, address(c.v4Base())));
      return;
    }
    // nft loads only the prefix's bytes and compares them.
    int bytes = c.prefixLength() / 8;
    out.add(new NftExpr.Payload(Base.NETWORK, offset, bytes, 1));
    out.add(new NftExpr.Cmp(1, op, Arrays.copyOf(address(c.v4Base()), bytes)));
  }

  /**
   * Several CIDRs: an anonymous interval set, as nft writes it. The ranges are merged and sorted;
   * each starts with its first address and ends with an interval-end element at the address after
   * its last (none after 255.255.255.255), and a leading end at 0.0.0.0 closes the gap before the
   * first range.
   */
  private void addressIntervals(
      NftCommand.AddRule rule, int offset, List<String> cidrs, boolean not, List<NftExpr> out) {
    List<long[]> ranges = new ArrayList<>();
    for (String s : cidrs) {
      Cidr c = Cidr.parse(s.contains("/") ? s : s + "/32");
      long first = Integer.toUnsignedLong(c.v4Base());
      ranges.add(new long[] {first, first + (1L << (32 - c.prefixLength())) - 1});
    }
    ranges.sort(Comparator.comparingLong(r -> r[0]));
    List<long[]> merged = new ArrayList<>();
    for (long[] r : ranges) {
      if (!merged.isEmpty() && r[0] <= merged.getLast()[1] + 1) {
        merged.getLast()[1] = Math.max(merged.getLast()[1], r[1]);
      } else {
        merged.add(r);
      }
    }
    List<Element> elements = new ArrayList<>();
    if (merged.getFirst()[0] != 0) {
      elements.add(interval(0, Interval.END));
    }
    for (long[] r : merged) {
      if (r[1] == 0xffffffffL) {
        elements.add(interval(r[0], Interval.OPEN));
      } else {
        elements.add(interval(r[0], Interval.START));
        elements.add(interval(r[1] + 1, Interval.END));
      }
    }
    // nft's size counts the end an open range has not got.
    int size = elements.size() + (elements.getLast().interval() == Interval.OPEN ? 1 : 0);
    int id = batch.newSetId();
    boolean source = offset == 12;
    String table = rule.table();
    batch.add(
        () -> rule.script() + " (its set)",
        NftMessages.addAnonymousAddressIntervals(table, id, size, source));
    batch.add(
        () -> rule.script() + " (its set's elements)",
        NftMessages.elements(table, NftMessages.ANONYMOUS_SET, Optional.of(id), elements, false));
    out.add(new NftExpr.Payload(Base.NETWORK, offset, 4, 1));
    out.add(
        new NftExpr.Lookup(NftMessages.ANONYMOUS_SET, Optional.of(id), 1, Optional.empty(), not));
  }

  private static Element interval(long address, Interval kind) {
    return new Element(List.of(address((int) address)), Optional.empty(), Optional.empty(), kind);
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
        () -> rule.script() + " (its map)",
        NftMessages.addAnonymousVerdictMap(table, id, elements.size()));
    batch.add(
        () -> rule.script() + " (its map's elements)",
        NftMessages.elements(table, NftMessages.ANONYMOUS_MAP, Optional.of(id), elements, false));
    out.add(new NftExpr.RandomNumber(1, r.verdicts().size()));
    out.add(
        new NftExpr.Lookup(NftMessages.ANONYMOUS_MAP, Optional.of(id), 1, Optional.of(0), false));
  }

  private static Element element(NftElement e) {
    List<byte[]> fields = new ArrayList<>();
    for (NftElement.Field f : e.key()) {
      fields.add(
          switch (f) {
            case NftElement.Address a -> address(Ipv4.parse(a.ip()));
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

  private static byte[] address(int a) {
    return ByteBuffer.allocate(4).order(ByteOrder.BIG_ENDIAN).putInt(a).array();
  }

  private static byte[] be16(int v) {
    return ByteBuffer.allocate(2).order(ByteOrder.BIG_ENDIAN).putShort((short) v).array();
  }

  /** A 32-bit value as the kernel's registers hold meta and ct keys: host byte order. */
  private static byte[] host32(int v) {
    return ByteBuffer.allocate(4).order(ByteOrder.nativeOrder()).putInt(v).array();
  }
}
