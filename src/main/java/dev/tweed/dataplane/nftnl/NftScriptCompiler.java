package dev.tweed.dataplane.nftnl;

import dev.tweed.dataplane.nftnl.NftExpr.Base;
import dev.tweed.dataplane.nftnl.NftExpr.MetaKey;
import dev.tweed.dataplane.nftnl.NftExpr.Op;
import dev.tweed.dataplane.nftnl.NftMessages.BaseChain;
import dev.tweed.dataplane.nftnl.NftMessages.Element;
import dev.tweed.dataplane.nftnl.NftMessages.Hook;
import dev.tweed.model.Cidr;
import dev.tweed.model.Ipv4;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
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
    NftScriptCompiler c = new NftScriptCompiler();
    for (String line : script.split("\n")) {
      if (!line.isBlank()) {
        c.line(line.strip());
      }
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
      // "type filter hook prerouting priority -110"
      String[] w = p.get("type").split(" ");
      if (w.length != 5 || !w[1].equals("hook") || !w[3].equals("priority")) {
        throw new UnsupportedLineException(line, "base chain " + p.get("type"));
      }
      base =
          Optional.of(
              new BaseChain(
                  w[0],
                  Hook.valueOf(w[2].toUpperCase(java.util.Locale.ROOT)),
                  Integer.parseInt(w[4])));
    }
    batch.add(line, NftMessages.addChain(t.get(3), t.get(4), base, comment(p)));
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
      if (at("ip", "daddr", ".", "meta", "l4proto", ".", "th", "dport", "vmap")) {
        i += 9;
        out.add(new NftExpr.Payload(Base.NETWORK, 16, 4, 1));
        out.add(new NftExpr.Meta(MetaKey.L4PROTO, 9));
        out.add(new NftExpr.Payload(Base.TRANSPORT, 2, 2, 10));
        lookupMap(next());
      } else if (at("meta", "l4proto", ".", "th", "dport", "vmap")) {
        i += 6;
        out.add(new NftExpr.Meta(MetaKey.L4PROTO, 1));
        out.add(new NftExpr.Payload(Base.TRANSPORT, 2, 2, 9));
        lookupMap(next());
      } else if (at("ip", "daddr") || at("ip", "saddr")) {
        int offset = w.get(i + 1).equals("daddr") ? 16 : 12;
        i += 2;
        addressMatch(offset);
      } else if (at("ct", "state", "new")) {
        i += 3;
        out.add(new NftExpr.CtState(1));
        out.add(new NftExpr.Bitwise(1, 1, host32(8), host32(0)));
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
        int bits = Integer.decode(next());
        markSet(~bits, bits);
      } else if (at("mark", "set", "mark", "xor")) {
        i += 4;
        markSet(-1, Integer.decode(next()));
      } else if (at("mark", "and")) {
        i += 2;
        int bits = Integer.decode(next());
        if (!next().equals("==")) {
          throw new UnsupportedLineException(line, "mark test");
        }
        out.add(new NftExpr.Meta(MetaKey.MARK, 1));
        out.add(new NftExpr.Bitwise(1, 1, host32(bits), host32(0)));
        out.add(new NftExpr.Cmp(1, Op.EQ, host32(Integer.decode(next()))));
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
      if (cidrs.size() != 1) {
        throw new UnsupportedLineException(line, "a set of several addresses");
      }
      Cidr c =
          Cidr.parse(cidrs.getFirst().contains("/") ? cidrs.getFirst() : cidrs.getFirst() + "/32");
      int bytes = c.prefixLength() / 8;
      if (c.prefixLength() % 8 != 0 || bytes == 0) {
        throw new UnsupportedLineException(line, "prefix /" + c.prefixLength());
      }
      // nft loads only the prefix's bytes and compares them.
      out.add(new NftExpr.Payload(Base.NETWORK, offset, bytes, 1));
      byte[] prefix = java.util.Arrays.copyOf(NftScriptCompiler.address(c.base()), bytes);
      out.add(new NftExpr.Cmp(1, not ? Op.NEQ : Op.EQ, prefix));
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
      out.add(new NftExpr.Bitwise(1, 1, host32(mask), host32(xor)));
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
      if (k.contains(".")) {
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
