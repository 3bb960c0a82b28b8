package dev.tweed.rules.nft;

import dev.tweed.model.IpFamily;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * One statement of a rule: a match or an action, printed as nft prints it. These are the forms
 * Tweed's renderers write, each of which the netlink writer encodes as nft does.
 */
public sealed interface NftStatement {
  /**
   * The statement as nft prints it in a table of {@code family}: a statement's addresses are read
   * from the network header of its table's family ({@code ip saddr} in an {@code ip} table, {@code
   * ip6 saddr} in an {@code ip6} one), so one statement serves both families' tables.
   */
  String script(IpFamily family);

  /** Which address of the network header a match reads. */
  enum Address {
    SADDR,
    DADDR;

    String script(IpFamily family) {
      return header(family) + (this == SADDR ? " saddr" : " daddr");
    }
  }

  /** nft's name of a family's network header: {@code ip} or {@code ip6}. */
  static String header(IpFamily family) {
    return family == IpFamily.IPV4 ? "ip" : "ip6";
  }

  /** What a key is looked up in: a named set (or its complement), or a named verdict map. */
  sealed interface Lookup {
    String script();
  }

  /** {@code [!=] @set}. */
  record InSet(String set, boolean not) implements Lookup {
    public String script() {
      return (not ? "!= @" : "@") + set;
    }
  }

  /** {@code vmap @map}. */
  record Vmap(String map) implements Lookup {
    public String script() {
      return "vmap @" + map;
    }
  }

  /**
   * {@code ip saddr|daddr [!=] VALUE} or {@code [!=] { VALUE, ... }}: addresses and CIDRs; braced,
   * the values form an anonymous set (one braced value is still compared as a prefix).
   */
  record AddressIs(Address address, boolean not, List<String> values, boolean braced)
      implements NftStatement {
    public AddressIs {
      values = List.copyOf(values);
      if (values.isEmpty() || (!braced && values.size() > 1)) {
        throw new IllegalArgumentException("addresses " + values + (braced ? " braced" : ""));
      }
    }

    public static AddressIs of(Address address, String value) {
      return new AddressIs(address, false, List.of(value), false);
    }

    public String script(IpFamily family) {
      return address.script(family)
          + (not ? " != " : " ")
          + (braced ? "{ " + String.join(", ", values) + " }" : values.getFirst());
    }
  }

  /** {@code ip saddr|daddr [!=] @set}. */
  record AddressIn(Address address, InSet set) implements NftStatement {
    public String script(IpFamily family) {
      return address.script(family) + " " + set.script();
    }
  }

  /** {@code ip daddr . meta l4proto . th dport} looked up: a Service's address, protocol, port. */
  record DestinationServiceIn(Lookup lookup) implements NftStatement {
    public String script(IpFamily family) {
      return header(family) + " daddr . meta l4proto . th dport " + lookup.script();
    }
  }

  /** {@code meta l4proto . th dport} looked up: a NodePort's protocol and port. */
  record ServicePortIn(Lookup lookup) implements NftStatement {
    public String script(IpFamily family) {
      return "meta l4proto . th dport " + lookup.script();
    }
  }

  /** {@code iifname|oifname} looked up. */
  record InterfaceIn(boolean input, Lookup lookup) implements NftStatement {
    public String script(IpFamily family) {
      return (input ? "iifname " : "oifname ") + lookup.script();
    }
  }

  /** {@code iifname . ip saddr} looked up: a packet's interface and source together. */
  record InterfaceSourceIn(Lookup lookup) implements NftStatement {
    public String script(IpFamily family) {
      return "iifname . " + header(family) + " saddr " + lookup.script();
    }
  }

  /** {@code ct state STATE,...}: any of the connection tracking states. */
  record CtState(List<String> states) implements NftStatement {
    public CtState {
      states = List.copyOf(states);
    }

    public String script(IpFamily family) {
      return "ct state " + String.join(",", states);
    }
  }

  /**
   * {@code icmpv6 type NAME}: one of the link's ICMPv6 control messages, by nft's name for it:
   * multicast listener discovery ({@code mld-listener-query}, {@code mld-listener-report}, {@code
   * mld-listener-done}, {@code mld2-listener-report}) and neighbour discovery ({@code
   * nd-router-solicit}, {@code nd-router-advert}, {@code nd-neighbor-solicit}, {@code
   * nd-neighbor-advert}).
   */
  record Icmpv6Type(String type) implements NftStatement {
    /** nft's names of the link's control message types, by number. */
    public static final Map<Integer, String> LINK_CONTROL =
        Map.of(
            130, "mld-listener-query",
            131, "mld-listener-report",
            132, "mld-listener-done",
            133, "nd-router-solicit",
            134, "nd-router-advert",
            135, "nd-neighbor-solicit",
            136, "nd-neighbor-advert",
            143, "mld2-listener-report");

    public Icmpv6Type {
      if (!LINK_CONTROL.containsValue(type)) {
        throw new IllegalArgumentException("ICMPv6 type " + type);
      }
    }

    public static Icmpv6Type of(int number) {
      return new Icmpv6Type(LINK_CONTROL.get(number));
    }

    /** The type's number. */
    public int number() {
      return LINK_CONTROL.entrySet().stream()
          .filter(e -> e.getValue().equals(type))
          .findFirst()
          .orElseThrow()
          .getKey();
    }

    public String script(IpFamily family) {
      return "icmpv6 type " + type;
    }
  }

  /** {@code meta l4proto PROTOCOL}. */
  record L4Protocol(String protocol) implements NftStatement {
    public String script(IpFamily family) {
      return "meta l4proto " + protocol;
    }
  }

  /** {@code PROTOCOL dport FROM[-TO]}. */
  record DestinationPort(String protocol, int from, int to) implements NftStatement {
    public String script(IpFamily family) {
      return protocol + " dport " + from + (to == from ? "" : "-" + to);
    }
  }

  /** {@code fib saddr type local}: the source is one of this host's addresses. */
  record SourceIsLocal() implements NftStatement {
    public String script(IpFamily family) {
      return "fib saddr type local";
    }
  }

  /**
   * How a rule spells the packet mark: kube-proxy's short form ({@code mark and 0x4000 == 0},
   * {@code mark set mark or 0x4000}) or the meta form ({@code meta mark & ...}).
   */
  enum MarkSyntax {
    SHORT,
    META
  }

  /** {@code mark and BITS == VALUE} / {@code meta mark & BITS == VALUE}; values as written. */
  record MarkIs(MarkSyntax syntax, String bits, String value) implements NftStatement {
    public String script(IpFamily family) {
      return (syntax == MarkSyntax.SHORT ? "mark and " : "meta mark & ") + bits + " == " + value;
    }
  }

  /** A bitwise operation on the mark. */
  enum MarkOperation {
    AND,
    OR,
    XOR
  }

  /** {@code mark set mark or|xor BITS} / {@code meta mark set meta mark &|| BITS}. */
  record SetMark(MarkSyntax syntax, MarkOperation operation, String bits) implements NftStatement {
    public SetMark {
      if (syntax == MarkSyntax.SHORT && operation == MarkOperation.AND
          || syntax == MarkSyntax.META && operation == MarkOperation.XOR) {
        throw new IllegalArgumentException(syntax + " mark " + operation);
      }
    }

    public String script(IpFamily family) {
      return syntax == MarkSyntax.SHORT
          ? "mark set mark " + operation.name().toLowerCase() + " " + bits
          : "meta mark set meta mark " + (operation == MarkOperation.AND ? "&" : "|") + " " + bits;
    }
  }

  /** {@code counter}. */
  record Counter() implements NftStatement {
    public String script(IpFamily family) {
      return "counter";
    }
  }

  /** {@code log prefix "..." group G snaplen S}: the packet to an NFLOG group. */
  record Log(String prefix, int group, int snaplen) implements NftStatement {
    public String script(IpFamily family) {
      return "log prefix \"" + prefix + "\" group " + group + " snaplen " + snaplen;
    }
  }

  /**
   * {@code dnat to IP:PORT}, an IPv6 address in brackets (after a {@code meta l4proto} match, which
   * nft requires).
   */
  record Dnat(String ip, int port) implements NftStatement {
    public String script(IpFamily family) {
      return "dnat to " + (IpFamily.of(ip) == IpFamily.IPV6 ? "[" + ip + "]" : ip) + ":" + port;
    }
  }

  /** {@code masquerade fully-random}. */
  record MasqueradeFullyRandom() implements NftStatement {
    public String script(IpFamily family) {
      return "masquerade fully-random";
    }
  }

  /** {@code update @set { ip saddr }}: the source added to a dynamic set (ClientIP affinity). */
  record AddSourceTo(String set) implements NftStatement {
    public String script(IpFamily family) {
      return "update @" + set + " { " + header(family) + " saddr }";
    }
  }

  /** {@code numgen random mod N vmap { 0 : V0 , 1 : V1 ... }}: one of N verdicts at random. */
  record RandomVerdict(List<NftVerdict> verdicts) implements NftStatement {
    public RandomVerdict {
      verdicts = List.copyOf(verdicts);
    }

    public String script(IpFamily family) {
      return "numgen random mod "
          + verdicts.size()
          + " vmap { "
          + IntStream.range(0, verdicts.size())
              .mapToObj(i -> i + " : " + verdicts.get(i).script())
              .collect(Collectors.joining(" , "))
          + " }";
    }
  }

  /** {@code reject}. */
  record Reject() implements NftStatement {
    public String script(IpFamily family) {
      return "reject";
    }
  }

  /** A verdict ending the rule. */
  record Verdict(NftVerdict verdict) implements NftStatement {
    public String script(IpFamily family) {
      return verdict.script();
    }
  }
}
