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
 * Turns the nft script the service proxy renders into one netlink batch: the same objects and
 * rules, encoded as nft encodes them, without nft. It knows the statements Tweed's renderer writes
 * and no others: anything else is refused with the line, so that a new form in the renderer is
 * found by the equivalence test, not in the kernel.
 */
public final class NftScriptCompiler {
  /** A line this compiler does not know. */
  public static final class UnsupportedLineException extends IllegalArgumentException {
    UnsupportedLineException(String line, String why) {
      super("cannot write by netlink (" + why + "): " + line);
    }
  }

  private final NftBatch batch = new NftBatch();

  /** Sets created in this batch, by name: elements and lookups refer to them by id. */
  private final Map<String, Integer> newSets = new HashMap<>();

  private NftScriptCompiler() {}

  /** The batch that makes {@code script}'s changes (tables of family ip). */
  public static NftBatch compile(String script) {
    List<String> lines = new ArrayList<>();
    for (String line : script.split("\n")) {
      if (!line.isBlank()) {
        lines.add(line.strip());
      }
    }
    return compileLines(NftBatchOrder.of(lines));
  }

  /** The batch of {@code lines}, in their order. */
  static NftBatch compileLines(List<String> lines) {
    NftScriptCompiler c = new NftScriptCompiler();
    for (String line : lines) {
      c.line(line);
    }
    return c.batch;
  }

  private void line(String line) {
    List<String> t = NftTokens.split(line);
    if (t.size() < 4 || !t.get(2).equals("ip")) {
      throw new UnsupportedLineException(line, "not an ip table's object");
    }
    String verb = t.get(0) + " " + t.get(1);
    switch (verb) {
      case "add table" -> addTable(line, t);
      case "add set", "add map" -> addSet(line, t);
      case "add chain" -> addChain(line, t);
      case "add rule" -> addRule(line, t);
      case "add element", "delete element" -> elements(line, t, verb.startsWith("delete"));
      case "flush chain" -> batch.add(line, NftMessages.flushChain(t.get(3), t.get(4)));
      case "flush set", "flush map" -> batch.add(line, NftMessages.flushSet(t.get(3), t.get(4)));
      case "delete set", "delete map" -> batch.add(line, NftMessages.deleteSet(t.get(3), t.get(4)));
      case "delete chain" -> batch.add(line, NftMessages.deleteChain(t.get(3), t.get(4)));
      case "delete table" -> batch.add(line, NftMessages.deleteTable(t.get(3)));
      default -> throw new UnsupportedLineException(line, "unknown command");
    }
  }

  private void addTable(String line, List<String> t) {
    Map<String, String> props = braces(line, t, 4);
    batch.add(line, NftMessages.addTable(t.get(3), comment(props)));
  }

  /**
   * The batch that creates the table of an {@code add table} line only if it does not exist: the
   * kernel refuses it (EEXIST) otherwise.
   */
  public static NftBatch createTable(String addTableLine) {
    List<String> t = NftTokens.split(addTableLine);
    if (t.size() < 4 || !addTableLine.startsWith("add table ip ")) {
      throw new UnsupportedLineException(addTableLine, "not an ip table");
    }
    NftBatch b = new NftBatch();
    b.add(addTableLine, NftMessages.addTable(t.get(3), comment(braces(addTableLine, t, 4)), true));
    return b;
  }

  private void addSet(String line, List<String> t) {
    Map<String, String> p = braces(line, t, 5);
    String type = p.getOrDefault("type", "");
    boolean verdictMap = type.endsWith(": verdict");
    String keyText = verdictMap ? type.substring(0, type.indexOf(':')).strip() : type;
    List<NftSet.Type> key = new ArrayList<>();
    for (String k : keyText.split("\\.")) {
      key.add(
          switch (k.strip()) {
            case "ipv4_addr" -> NftSet.Type.IPV4_ADDR;
            case "inet_proto" -> NftSet.Type.INET_PROTO;
            case "inet_service" -> NftSet.Type.INET_SERVICE;
            case "ifname" -> NftSet.Type.IFNAME;
            default -> throw new UnsupportedLineException(line, "key type " + k.strip());
          });
    }
    String flags = p.getOrDefault("flags", "");
    Optional<Long> timeout =
        Optional.ofNullable(p.get("timeout"))
            .map(s -> Long.parseLong(s.substring(0, s.length() - 1)));
    if (!flags.isEmpty() && !flags.equals("dynamic,timeout")) {
      throw new UnsupportedLineException(line, "flags " + flags);
    }
    NftSet set =
        new NftSet(t.get(4), key, verdictMap, flags.contains("dynamic"), timeout, comment(p));
    int id = batch.newSetId();
    newSets.put(set.name(), id);
    batch.add(line, NftMessages.addSet(t.get(3), set, id));
  }

  private void addChain(String line, List<String> t) {
    Map<String, String> p = braces(line, t, 5);
    Optional<BaseChain> base = Optional.empty();
    if (p.containsKey("type")) {
      // "type filter hook prerouting priority -110", "... priority filter - 5"
      String[] w = p.get("type").split(" ");
      if (w.length < 5 || !w[1].equals("hook") || !w[3].equals("priority")) {
        throw new UnsupportedLineException(line, "base chain " + p.get("type"));
      }
      Optional<Integer> policy =
          Optional.ofNullable(p.get("policy"))
              .map(
                  v ->
                      switch (v) {
                        case "accept" -> 1;
                        case "drop" -> 0;
                        default -> throw new UnsupportedLineException(line, "policy " + v);
                      });
      base =
          Optional.of(
              new BaseChain(
                  w[0],
                  Hook.valueOf(w[2].toUpperCase(Locale.ROOT)),
                  priority(line, Arrays.copyOfRange(w, 4, w.length)),
                  policy));
    }
    batch.add(line, NftMessages.addChain(t.get(3), t.get(4), base, comment(p)));
  }

  /** A priority as a number or as nft's name for one, with an offset ({@code filter - 5}). */
  private static int priority(String line, String[] words) {
    int value =
        switch (words[0]) {
          case "raw" -> -300;
          case "mangle" -> -150;
          case "dstnat" -> -100;
          case "filter" -> 0;
          case "security" -> 50;
          case "srcnat" -> 100;
          default -> {
            try {
              yield Integer.parseInt(words[0]);
            } catch (NumberFormatException e) {
              throw new UnsupportedLineException(line, "priority " + words[0]);
            }
          }
        };
    if (words.length == 1) {
      return value;
    }
    if (words.length != 3 || !(words[1].equals("+") || words[1].equals("-"))) {
      throw new UnsupportedLineException(line, "priority " + String.join(" ", words));
    }
    int offset = Integer.parseInt(words[2]);
    return words[1].equals("+") ? value + offset : value - offset;
  }

  private void addRule(String line, List<String> t) {
    String table = t.get(3);
    List<String> words = new ArrayList<>(t.subList(5, t.size()));
    Optional<String> comment = Optional.empty();
    int c = words.indexOf("comment");
    if (c >= 0) {
      comment = Optional.of(unquote(words.get(c + 1)));
      words = words.subList(0, c);
    }
    List<NftExpr> exprs = new RuleCompiler(line, table, words).compile();
    batch.add(line, NftMessages.addRule(table, t.get(4), exprs, comment));
  }

  /** The statements of one rule, compiled left to right into expressions. */
  private final class RuleCompiler {
    private final String line;
    private final String table;
    private final List<String> w;
    private int i;
    private final List<NftExpr> out = new ArrayList<>();

    RuleCompiler(String line, String table, List<String> words) {
      this.line = line;
      this.table = table;
      this.w = words;
    }

    List<NftExpr> compile() {
      while (i < w.size()) {
        statement();
      }
      return out;
    }

    private String next() {
      if (i >= w.size()) {
        throw new UnsupportedLineException(line, "statement ends early");
      }
      return w.get(i++);
    }

    private boolean at(String... words) {
      for (int k = 0; k < words.length; k++) {
        if (i + k >= w.size() || !w.get(i + k).equals(words[k])) {
          return false;
        }
      }
      return true;
    }

    private void statement() {
      if (at("ip", "daddr", ".", "meta", "l4proto", ".", "th", "dport")) {
        i += 8;
        out.add(new NftExpr.Payload(Base.NETWORK, 16, 4, 1));
        out.add(new NftExpr.Meta(MetaKey.L4PROTO, 9));
        out.add(new NftExpr.Payload(Base.TRANSPORT, 2, 2, 10));
        setOrMap();
      } else if (at("iifname", ".", "ip", "saddr")) {
        // The name takes the 16-byte register 1, the address the next one.
        i += 4;
        out.add(new NftExpr.Meta(MetaKey.IIFNAME, 1));
        out.add(new NftExpr.Payload(Base.NETWORK, 12, 4, 2));
        setOrMap();
      } else if (at("iifname") || at("oifname")) {
        out.add(new NftExpr.Meta(next().equals("iifname") ? MetaKey.IIFNAME : MetaKey.OIFNAME, 1));
        setOrMap();
      } else if (at("counter")) {
        i++;
        out.add(new NftExpr.Counter());
      } else if (at("log", "prefix")) {
        i += 2;
        String prefix = unquote(next());
        int group = 0;
        int snaplen = 0;
        while (at("group") || at("snaplen")) {
          if (next().equals("group")) {
            group = Integer.parseInt(next());
          } else {
            snaplen = Integer.parseInt(next());
          }
        }
        out.add(new NftExpr.Log(prefix, group, snaplen));
      } else if (at("meta", "mark", "set", "meta", "mark")) {
        i += 5;
        String op = next();
        int bits = bits(next());
        switch (op) {
          case "&" -> markSet(bits, 0);
          case "|" -> markSet(~bits, bits);
          default -> throw new UnsupportedLineException(line, "mark operation " + op);
        }
      } else if (at("meta", "mark", "&")) {
        i += 3;
        markTest();
      } else if (at("tcp", "dport") || at("udp", "dport") || at("sctp", "dport")) {
        out.add(new NftExpr.Meta(MetaKey.L4PROTO, 1));
        out.add(new NftExpr.Cmp(1, Op.EQ, new byte[] {(byte) protocol(next())}));
        i++;
        out.add(new NftExpr.Payload(Base.TRANSPORT, 2, 2, 1));
        String[] range = next().split("-");
        if (range.length == 1) {
          out.add(new NftExpr.Cmp(1, Op.EQ, be16(Integer.parseInt(range[0]))));
        } else {
          out.add(new NftExpr.Cmp(1, Op.GTE, be16(Integer.parseInt(range[0]))));
          out.add(new NftExpr.Cmp(1, Op.LTE, be16(Integer.parseInt(range[1]))));
        }
      } else if (at("meta", "l4proto", ".", "th", "dport", "vmap")) {
        i += 6;
        out.add(new NftExpr.Meta(MetaKey.L4PROTO, 1));
        out.add(new NftExpr.Payload(Base.TRANSPORT, 2, 2, 9));
        lookupMap(next());
      } else if (at("ip", "daddr") || at("ip", "saddr")) {
        int offset = w.get(i + 1).equals("daddr") ? 16 : 12;
        i += 2;
        addressMatch(offset);
      } else if (at("ct", "state")) {
        i += 2;
        int bits = 0;
        for (String state : next().split(",")) {
          bits |=
              switch (state) {
                case "invalid" -> 1;
                case "established" -> 2;
                case "related" -> 4;
                case "new" -> 8;
                case "untracked" -> 64;
                default -> throw new UnsupportedLineException(line, "ct state " + state);
              };
        }
        out.add(new NftExpr.CtState(1));
        out.add(new NftExpr.Bitwise(1, 1, host32(bits), host32(0)));
        out.add(new NftExpr.Cmp(1, Op.NEQ, host32(0)));
      } else if (at("meta", "l4proto")) {
        i += 2;
        out.add(new NftExpr.Meta(MetaKey.L4PROTO, 1));
        out.add(new NftExpr.Cmp(1, Op.EQ, new byte[] {(byte) protocol(next())}));
      } else if (at("fib", "saddr", "type", "local")) {
        i += 4;
        out.add(new NftExpr.FibSourceType(1));
        out.add(new NftExpr.Cmp(1, Op.EQ, host32(2))); // RTN_LOCAL
      } else if (at("mark", "set", "mark", "or")) {
        i += 4;
        int bits = bits(next());
        markSet(~bits, bits);
      } else if (at("mark", "set", "mark", "xor")) {
        i += 4;
        markSet(-1, bits(next()));
      } else if (at("mark", "and")) {
        i += 2;
        markTest();
      } else if (at("dnat", "to")) {
        i += 2;
        String[] target = next().split(":");
        out.add(new NftExpr.Immediate(1, NftScriptCompiler.address(target[0])));
        out.add(new NftExpr.Immediate(2, be16(Integer.parseInt(target[1]))));
        out.add(new NftExpr.Dnat(1, 2));
      } else if (at("masquerade", "fully-random")) {
        i += 2;
        out.add(new NftExpr.MasqueradeFullyRandom());
      } else if (at("update")) {
        i++;
        String set = setName(next());
        if (!(at("{", "ip", "saddr", "}"))) {
          throw new UnsupportedLineException(line, "update key");
        }
        i += 4;
        out.add(new NftExpr.Payload(Base.NETWORK, 12, 4, 1));
        out.add(new NftExpr.SetUpdate(set, 1));
      } else if (at("numgen", "random", "mod")) {
        i += 3;
        numgenMap(Integer.parseInt(next()));
      } else {
        verdict();
      }
    }

    private void verdict() {
      String v = next();
      switch (v) {
        case "jump" -> out.add(NftExpr.Verdict.jump(next()));
        case "goto" -> out.add(NftExpr.Verdict.goTo(next()));
        case "return" -> out.add(NftExpr.Verdict.of(NftExpr.Verdict.RETURN));
        case "drop" -> out.add(NftExpr.Verdict.of(NftExpr.Verdict.DROP));
        case "accept" -> out.add(NftExpr.Verdict.of(NftExpr.Verdict.ACCEPT));
        case "reject" -> out.add(new NftExpr.Reject());
        default -> throw new UnsupportedLineException(line, "statement at \"" + v + "\"");
      }
    }

    /** {@code ip daddr|saddr} followed by {@code [!=] @set}, an address, or CIDRs. */
    private void addressMatch(int offset) {
      boolean not = at("!=");
      if (not) {
        i++;
      }
      String v = next();
      if (v.startsWith("@")) {
        out.add(new NftExpr.Payload(Base.NETWORK, offset, 4, 1));
        String set = setName(v);
        out.add(
            new NftExpr.Lookup(
                set, Optional.ofNullable(newSets.get(set)), 1, Optional.empty(), not));
        return;
      }
      List<String> cidrs = new ArrayList<>();
      if (v.equals("{")) {
        for (String x = next(); !x.equals("}"); x = next()) {
          if (!x.equals(",")) {
            cidrs.add(x);
          }
        }
      } else {
        cidrs.add(v);
      }
      if (cidrs.size() > 1) {
        addressIntervals(offset, cidrs, not);
        return;
      }
      Cidr c =
          Cidr.parse(cidrs.getFirst().contains("/") ? cidrs.getFirst() : cidrs.getFirst() + "/32");
      if (c.prefixLength() == 0) {
        throw new UnsupportedLineException(line, "prefix /0");
      }
      if (c.prefixLength() % 8 != 0) {
        // nft loads the address whole, masks it and compares.
        out.add(new NftExpr.Payload(Base.NETWORK, offset, 4, 1));
        int mask = (int) (0xffffffffL << (32 - c.prefixLength()));
        out.add(new NftExpr.Bitwise(1, 1, NftScriptCompiler.address(mask), new byte[4]));
        out.add(new NftExpr.Cmp(1, not ? Op.NEQ : Op.EQ, NftScriptCompiler.address(c.base())));
        return;
      }
      // nft loads only the prefix's bytes and compares them.
      int bytes = c.prefixLength() / 8;
      out.add(new NftExpr.Payload(Base.NETWORK, offset, bytes, 1));
      byte[] prefix = Arrays.copyOf(NftScriptCompiler.address(c.base()), bytes);
      out.add(new NftExpr.Cmp(1, not ? Op.NEQ : Op.EQ, prefix));
    }

    /**
     * Several CIDRs: an anonymous interval set, as nft writes it. The ranges are merged and sorted;
     * each starts with its first address and ends with an interval-end element at the address after
     * its last (none after 255.255.255.255), and a leading end at 0.0.0.0 closes the gap before the
     * first range.
     */
    private void addressIntervals(int offset, List<String> cidrs, boolean not) {
      List<long[]> ranges = new ArrayList<>();
      for (String s : cidrs) {
        Cidr c = Cidr.parse(s.contains("/") ? s : s + "/32");
        long first = Integer.toUnsignedLong(c.base());
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
      batch.add(
          line + " (its set)", NftMessages.addAnonymousAddressIntervals(table, id, size, source));
      batch.add(
          line + " (its set's elements)",
          NftMessages.elements(table, NftMessages.ANONYMOUS_SET, Optional.of(id), elements, false));
      out.add(new NftExpr.Payload(Base.NETWORK, offset, 4, 1));
      out.add(
          new NftExpr.Lookup(NftMessages.ANONYMOUS_SET, Optional.of(id), 1, Optional.empty(), not));
    }

    private static Element interval(long address, Interval kind) {
      return new Element(
          List.of(NftScriptCompiler.address((int) address)),
          Optional.empty(),
          Optional.empty(),
          kind);
    }

    /** {@code BITS == VALUE} after {@code mark and} or {@code meta mark &}. */
    private void markTest() {
      int bits = bits(next());
      if (!next().equals("==")) {
        throw new UnsupportedLineException(line, "mark test");
      }
      out.add(new NftExpr.Meta(MetaKey.MARK, 1));
      out.add(new NftExpr.Bitwise(1, 1, host32(bits), host32(0), true));
      out.add(new NftExpr.Cmp(1, Op.EQ, host32(bits(next()))));
    }

    /** {@code [!=] @set} or {@code vmap @map} after a key loaded into register 1. */
    private void setOrMap() {
      if (at("vmap")) {
        i++;
        lookupMap(next());
        return;
      }
      boolean not = at("!=");
      if (not) {
        i++;
      }
      String set = setName(next());
      out.add(
          new NftExpr.Lookup(set, Optional.ofNullable(newSets.get(set)), 1, Optional.empty(), not));
    }

    private void lookupMap(String ref) {
      String set = setName(ref);
      out.add(
          new NftExpr.Lookup(set, Optional.ofNullable(newSets.get(set)), 1, Optional.of(0), false));
    }

    private String setName(String ref) {
      if (!ref.startsWith("@")) {
        throw new UnsupportedLineException(line, "an anonymous set at " + ref);
      }
      return ref.substring(1);
    }

    private void markSet(int mask, int xor) {
      out.add(new NftExpr.Meta(MetaKey.MARK, 1));
      out.add(new NftExpr.Bitwise(1, 1, host32(mask), host32(xor), true));
      out.add(new NftExpr.MetaSet(MetaKey.MARK, 1));
    }

    /** {@code vmap { 0 : goto a , 1 : goto b }} after a random number: an anonymous map. */
    private void numgenMap(int modulus) {
      if (!at("vmap", "{")) {
        throw new UnsupportedLineException(line, "numgen without vmap");
      }
      i += 2;
      List<Element> elements = new ArrayList<>();
      while (!at("}")) {
        int key = Integer.parseInt(next());
        if (!next().equals(":")) {
          throw new UnsupportedLineException(line, "map element");
        }
        String kind = next();
        String chain = next();
        elements.add(
            new Element(
                List.of(host32(key)),
                Optional.of(
                    kind.equals("goto")
                        ? NftMessages.Verdict.goTo(chain)
                        : NftMessages.Verdict.jump(chain))));
        if (at(",")) {
          i++;
        }
      }
      i++;
      int id = batch.newSetId();
      batch.add(
          line + " (its map)", NftMessages.addAnonymousVerdictMap(table, id, elements.size()));
      batch.add(
          line + " (its map's elements)",
          NftMessages.elements(table, NftMessages.ANONYMOUS_MAP, Optional.of(id), elements, false));
      out.add(new NftExpr.RandomNumber(1, modulus));
      out.add(
          new NftExpr.Lookup(NftMessages.ANONYMOUS_MAP, Optional.of(id), 1, Optional.of(0), false));
    }
  }

  private void elements(String line, List<String> t, boolean delete) {
    String set = t.get(4);
    int open = t.indexOf("{");
    int close = t.lastIndexOf("}");
    List<Element> elements = new ArrayList<>();
    List<String> cur = new ArrayList<>();
    for (String x : t.subList(open + 1, close)) {
      if (x.equals(",")) {
        elements.add(element(line, cur));
        cur = new ArrayList<>();
      } else {
        cur.add(x);
      }
    }
    if (!cur.isEmpty()) {
      elements.add(element(line, cur));
    }
    batch.add(
        line,
        NftMessages.elements(
            t.get(3), set, Optional.ofNullable(newSets.get(set)), elements, delete));
  }

  /**
   * {@code 10.96.0.10 . tcp . 80 [comment "..."] : goto chain}, {@code tcp . 30080 : jump chain},
   * or a key.
   */
  private static Element element(String line, List<String> elementWords) {
    List<String> words = new ArrayList<>(elementWords);
    Optional<String> comment = Optional.empty();
    int c = words.indexOf("comment");
    if (c >= 0) {
      comment = Optional.of(unquote(words.get(c + 1)));
      words.subList(c, c + 2).clear();
    }
    int colon = words.indexOf(":");
    List<String> key = colon < 0 ? words : words.subList(0, colon);
    List<byte[]> fields = new ArrayList<>();
    for (String k : key) {
      if (k.equals(".")) {
        continue;
      }
      if (k.startsWith("\"")) {
        fields.add(Arrays.copyOf(unquote(k).getBytes(StandardCharsets.UTF_8), 16));
      } else if (k.contains(".")) {
        fields.add(address(k));
      } else if (k.chars().allMatch(Character::isDigit)) {
        fields.add(be16(Integer.parseInt(k)));
      } else {
        fields.add(new byte[] {(byte) protocol(k)});
      }
    }
    Optional<NftMessages.Verdict> v = Optional.empty();
    if (colon >= 0) {
      String kind = words.get(colon + 1);
      v =
          Optional.of(
              switch (kind) {
                case "goto" -> NftMessages.Verdict.goTo(words.get(colon + 2));
                case "jump" -> NftMessages.Verdict.jump(words.get(colon + 2));
                case "drop" -> NftMessages.Verdict.of(0);
                case "accept" -> NftMessages.Verdict.of(1);
                case "return" -> NftMessages.Verdict.of(-5);
                default -> throw new UnsupportedLineException(line, "element verdict " + kind);
              });
    }
    return new Element(fields, v, comment);
  }

  /** The {@code { key value ; ... }} of a declaration, by key ("type", "comment", ...). */
  private static Map<String, String> braces(String line, List<String> t, int from) {
    Map<String, String> out = new HashMap<>();
    if (t.size() <= from || !t.get(from).equals("{")) {
      return out;
    }
    List<String> cur = new ArrayList<>();
    for (String x : t.subList(from + 1, t.size())) {
      if (x.equals(";") || x.equals("}")) {
        if (!cur.isEmpty()) {
          out.put(cur.getFirst(), String.join(" ", cur.subList(1, cur.size())));
        }
        cur = new ArrayList<>();
      } else {
        cur.add(x);
      }
    }
    return out;
  }

  private static Optional<String> comment(Map<String, String> props) {
    return Optional.ofNullable(props.get("comment")).map(NftScriptCompiler::unquote);
  }

  private static String unquote(String s) {
    return s.startsWith("\"") && s.endsWith("\"") ? s.substring(1, s.length() - 1) : s;
  }

  /** A 32-bit mark value as nft writes it ({@code 0xfffeffff}, {@code 0x4000}, {@code 0}). */
  private static int bits(String value) {
    return (int) Long.decode(value).longValue();
  }

  private static int protocol(String name) {
    return switch (name) {
      case "tcp" -> 6;
      case "udp" -> 17;
      case "sctp" -> 132;
      default -> throw new IllegalArgumentException("protocol " + name);
    };
  }

  static byte[] address(String dotted) {
    return ByteBuffer.allocate(4).order(ByteOrder.BIG_ENDIAN).putInt(Ipv4.parse(dotted)).array();
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
