package dev.tweed.kernel.nftables;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.kernel.Packet;
import dev.tweed.kernel.netfilter.PacketContext;
import dev.tweed.kernel.netfilter.XtMatchEvaluator;
import dev.tweed.model.Ipv4;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * What nftables expressions read from a packet, and how a value compares with the right-hand side
 * of a match (a literal, a prefix, a range, an anonymous or named set).
 *
 * <p>Values are {@code Long} (addresses, ports, protocol numbers, marks), {@code String} (interface
 * names, address types), {@code Set<String>} (conntrack state bits) and {@code List}
 * (concatenations). An expression that does not apply to the packet (a TCP port of a UDP packet)
 * has no value, and every match on it fails, as in the kernel.
 */
final class NftValues {
  private static final Map<String, Long> PROTOCOLS =
      Map.of("icmp", 1L, "tcp", 6L, "udp", 17L, "sctp", 132L, "ipv4", 2L, "ip", 0x0800L);

  private NftValues() {}

  /** Thrown for an expression the model does not know. */
  static final class Unknown extends RuntimeException {
    Unknown(String what) {
      super(what);
    }
  }

  static Optional<Object> value(JsonNode x, PacketContext c) {
    Packet p = c.packet();
    if (x.isNumber()) {
      return Optional.of(x.asLong());
    }
    Map.Entry<String, JsonNode> e = NftText.only(x);
    if (e == null) {
      throw new Unknown(x.toString());
    }
    JsonNode v = e.getValue();
    return switch (e.getKey()) {
      case "payload" -> payload(v.path("protocol").asText(), v.path("field").asText(), p);
      case "meta" ->
          switch (v.path("key").asText()) {
            case "l4proto" -> Optional.of(PROTOCOLS.getOrDefault(p.proto(), -1L));
            case "nfproto" -> Optional.of(2L);
            case "protocol" -> Optional.of(0x0800L);
            case "mark" -> Optional.of(p.mark());
            case "iifname" -> Optional.of(c.iif().orElse(""));
            case "oifname" -> Optional.of(c.oif().orElse(""));
            default -> throw new Unknown("meta " + v.path("key").asText());
          };
      case "ct" ->
          switch (v.path("key").asText()) {
            case "state" -> Optional.of(Set.of(c.ctState().toLowerCase(Locale.ROOT)));
            case "mark" -> Optional.of(p.ctMark());
            case "direction" -> Optional.of("original");
            case "status" -> {
              List<String> bits = new ArrayList<>();
              if (c.dnat()) {
                bits.add("dnat");
              }
              if (c.snat()) {
                bits.add("snat");
              }
              yield Optional.of(Set.copyOf(bits));
            }
            default -> throw new Unknown("ct " + v.path("key").asText());
          };
      case "fib" -> {
        if (!v.path("result").asText().equals("type")) {
          throw new Unknown("fib " + v.path("result").asText());
        }
        String flags = v.path("flags").toString();
        int addr = flags.contains("saddr") ? p.src() : p.dst();
        Optional<String> limit = flags.contains("iif") ? c.iif() : Optional.empty();
        yield Optional.of(XtMatchEvaluator.addressType(c, addr, limit).toLowerCase(Locale.ROOT));
      }
      case "concat" -> {
        List<Object> out = new ArrayList<>();
        for (JsonNode i : v) {
          Optional<Object> o = value(i, c);
          if (o.isEmpty()) {
            yield Optional.empty();
          }
          out.add(o.get());
        }
        yield Optional.of(List.copyOf(out));
      }
      case "&", "|", "^" -> {
        Optional<Object> a = value(v.get(0), c);
        Optional<Object> b = value(v.get(1), c);
        if (a.isEmpty() || b.isEmpty()) {
          yield Optional.empty();
        }
        long x1 = (Long) a.get();
        long x2 = literal(v.get(1), a.get());
        yield Optional.of(
            switch (e.getKey()) {
              case "&" -> x1 & x2;
              case "|" -> x1 | x2;
              default -> x1 ^ x2;
            });
      }
      default -> throw new Unknown(e.getKey());
    };
  }

  private static Optional<Object> payload(String proto, String field, Packet p) {
    switch (proto) {
      case "ip" -> {
        return switch (field) {
          case "saddr" -> Optional.of(Integer.toUnsignedLong(p.src()));
          case "daddr" -> Optional.of(Integer.toUnsignedLong(p.dst()));
          case "protocol" -> Optional.of(PROTOCOLS.getOrDefault(p.proto(), -1L));
          default -> throw new Unknown("ip " + field);
        };
      }
      case "th", "tcp", "udp", "sctp" -> {
        if (!p.hasPorts() || (!proto.equals("th") && !proto.equals(p.proto()))) {
          return Optional.empty();
        }
        return switch (field) {
          case "sport" -> Optional.of((long) p.sport());
          case "dport" -> Optional.of((long) p.dport());
          default -> throw new Unknown(proto + " " + field);
        };
      }
      default -> throw new Unknown(proto + " " + field);
    }
  }

  /** A literal read in the type of {@code like}: an address, a number, a protocol name. */
  static long literal(JsonNode x, Object like) {
    if (x.isNumber()) {
      return x.asLong();
    }
    String s = x.asText();
    if (s.matches("\\d+\\.\\d+\\.\\d+\\.\\d+")) {
      return Integer.toUnsignedLong(Ipv4.parse(s));
    }
    if (PROTOCOLS.containsKey(s)) {
      return PROTOCOLS.get(s);
    }
    if (s.startsWith("0x")) {
      return Long.parseLong(s.substring(2), 16);
    }
    try {
      return Long.parseLong(s);
    } catch (NumberFormatException e) {
      throw new Unknown("value " + s);
    }
  }

  /** Does {@code v} equal, or fall in, the element {@code el} (of a set, or a literal)? */
  @SuppressWarnings("unchecked")
  static boolean element(Object v, JsonNode el) {
    Map.Entry<String, JsonNode> e = NftText.only(el);
    if (e != null) {
      JsonNode x = e.getValue();
      switch (e.getKey()) {
        case "elem" -> {
          return element(v, x.path("val"));
        }
        case "prefix" -> {
          long addr = literal(x.path("addr"), v);
          int len = x.path("len").asInt();
          long mask = len == 0 ? 0 : (0xffffffffL << (32 - len)) & 0xffffffffL;
          return v instanceof Long l && (l & mask) == (addr & mask);
        }
        case "range" -> {
          return v instanceof Long l && l >= literal(x.get(0), v) && l <= literal(x.get(1), v);
        }
        case "concat" -> {
          if (!(v instanceof List<?> parts) || parts.size() != x.size()) {
            return false;
          }
          for (int i = 0; i < x.size(); i++) {
            if (!element(parts.get(i), x.get(i))) {
              return false;
            }
          }
          return true;
        }
        default -> throw new Unknown("set element " + el);
      }
    }
    if (v instanceof Set<?> bits) {
      return ((Set<String>) bits).contains(el.asText());
    }
    if (v instanceof String s) {
      String want = el.asText();
      return want.endsWith("*")
          ? s.startsWith(want.substring(0, want.length() - 1))
          : s.equals(want);
    }
    return v instanceof Long l && l == literal(el, v);
  }
}
