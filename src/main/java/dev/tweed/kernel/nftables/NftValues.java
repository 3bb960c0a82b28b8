package dev.tweed.kernel.nftables;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.kernel.Packet;
import dev.tweed.kernel.netfilter.PacketContext;
import dev.tweed.kernel.netfilter.XtMatchEvaluator;
import dev.tweed.model.Cidr;
import dev.tweed.model.IpAddress;
import dev.tweed.model.IpFamily;
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
 * <p>Values are {@link IpAddress} (addresses of either family), {@code Long} (ports, protocol and
 * ICMP type numbers, marks), {@code String} (interface names, address types), {@code Set<String>}
 * (conntrack state bits) and {@code List} (concatenations). An expression that does not apply to
 * the packet (a TCP port of a UDP packet) has no value, and every match on it fails, as in the
 * kernel.
 */
final class NftValues {
  private static final Map<String, Long> PROTOCOLS =
      Map.of(
          "icmp", 1L, "tcp", 6L, "udp", 17L, "sctp", 132L, "icmpv6", 58L, "ipv4", 2L, "ipv6", 10L,
          "ip", 0x0800L, "ip6", 0x86ddL);

  /** ICMPv6 types by nft's names (the link's control messages, and echo). */
  private static final Map<String, Long> ICMPV6_TYPES =
      Map.of(
          "echo-request", 128L,
          "echo-reply", 129L,
          "mld-listener-query", 130L,
          "mld-listener-report", 131L,
          "mld-listener-done", 132L,
          "nd-router-solicit", 133L,
          "nd-router-advert", 134L,
          "nd-neighbor-solicit", 135L,
          "nd-neighbor-advert", 136L,
          "mld2-listener-report", 143L);

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
            case "nfproto" -> Optional.of(p.family() == IpFamily.IPV4 ? 2L : 10L);
            case "protocol" -> Optional.of(p.family() == IpFamily.IPV4 ? 0x0800L : 0x86ddL);
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
        IpAddress addr = flags.contains("saddr") ? p.src() : p.dst();
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
      case "ip", "ip6" -> {
        // A header of the other family is not there (in an inet table nft checks the family).
        if ((p.family() == IpFamily.IPV4) != proto.equals("ip")) {
          return Optional.empty();
        }
        return switch (field) {
          case "saddr" -> Optional.of(p.src());
          case "daddr" -> Optional.of(p.dst());
          case "protocol", "nexthdr" -> Optional.of(PROTOCOLS.getOrDefault(p.proto(), -1L));
          default -> throw new Unknown(proto + " " + field);
        };
      }
      case "icmpv6", "icmp" -> {
        // The traced ICMP packet is an echo request: ICMP's type 8, ICMPv6's 128.
        if (!p.proto().equals(proto)) {
          return Optional.empty();
        }
        return switch (field) {
          case "type" -> Optional.of(proto.equals("icmp") ? 8L : 128L);
          case "code" -> Optional.of(0L);
          default -> throw new Unknown(proto + " " + field);
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

  /** A literal read in the type of {@code like}: an address of like's family. */
  static IpAddress address(JsonNode x, IpAddress like) {
    IpAddress a = IpAddress.parse(x.asText());
    if (a.family() != like.family()) {
      throw new Unknown("an " + a.family().apiName() + " address against " + like);
    }
    return a;
  }

  /** A literal read in the type of {@code like}: a number, a protocol or ICMPv6 type name. */
  static long literal(JsonNode x, Object like) {
    if (x.isNumber()) {
      return x.asLong();
    }
    String s = x.asText();
    if (PROTOCOLS.containsKey(s)) {
      return PROTOCOLS.get(s);
    }
    if (ICMPV6_TYPES.containsKey(s)) {
      return ICMPV6_TYPES.get(s);
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
          return v instanceof IpAddress a
              && Cidr.parse(address(x.path("addr"), a) + "/" + x.path("len").asInt()).contains(a);
        }
        case "range" -> {
          if (v instanceof IpAddress a) {
            return a.compareTo(address(x.get(0), a)) >= 0 && a.compareTo(address(x.get(1), a)) <= 0;
          }
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
    if (v instanceof IpAddress a) {
      return a.equals(address(el, a));
    }
    return v instanceof Long l && l == literal(el, v);
  }
}
