package dev.tweed.kernel.netfilter;

import dev.tweed.kernel.KernelDumpParser;
import dev.tweed.kernel.Packet;
import dev.tweed.kernel.RouteDecision;
import dev.tweed.kernel.RouteEntry;
import dev.tweed.kernel.RoutingTable;
import dev.tweed.model.Cidr;
import dev.tweed.model.IpAddress;
import dev.tweed.model.IpFamily;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/** Evaluates the matches of one iptables rule for one packet. */
public final class XtMatchEvaluator {
  private XtMatchEvaluator() {}

  public static MatchResult evaluate(XtRule rule, PacketContext ctx) {
    MatchResult fork = null;
    for (XtMatch m : rule.matches()) {
      MatchResult r = match(m, ctx);
      switch (r) {
        case MatchResult.No no -> {
          return r;
        }
        case MatchResult.Unknown u -> {
          return r;
        }
        case MatchResult.Fork f -> fork = f;
        case MatchResult.Yes y -> {}
      }
    }
    return fork != null ? fork : MatchResult.YES;
  }

  private static MatchResult match(XtMatch m, PacketContext ctx) {
    if (m.module().equals("rpfilter")) {
      return rpfilter(m, ctx);
    }
    MatchResult fork = null;
    for (XtOption o : m.options()) {
      MatchResult r = option(m.module(), o, m, ctx);
      if (r instanceof MatchResult.Fork f) {
        fork = f;
        continue;
      }
      if (!(r instanceof MatchResult.Yes)) {
        return r;
      }
    }
    if (m.options().isEmpty() && !KNOWN_WITHOUT_OPTIONS.contains(m.module())) {
      return unknownModule(m.module());
    }
    return fork != null ? fork : MatchResult.YES;
  }

  private static final List<String> KNOWN_WITHOUT_OPTIONS =
      List.of("comment", "tcp", "udp", "sctp", "icmp", "icmp6", "conntrack", "state", "limit");

  private static MatchResult unknownModule(String module) {
    return new MatchResult.Unknown(
        "cannot evaluate -m " + module + ": treated as no-match; verdict uncertain");
  }

  private static MatchResult bool(boolean b, XtOption o) {
    return (b != o.negated()) ? MatchResult.YES : MatchResult.NO;
  }

  private static MatchResult option(String module, XtOption o, XtMatch m, PacketContext ctx) {
    Packet p = ctx.packet();
    return switch (module) {
      case "" -> basic(o, ctx);
      case "comment" -> MatchResult.YES;
      case "tcp", "udp", "sctp" -> ports(module, o, p);
      case "icmp" -> icmp(o, p);
      case "icmp6" -> icmp6(o, p);
      case "multiport" -> multiport(o, p);
      case "mark" -> markMatch(o, p.mark());
      case "connmark" -> markMatch(o, p.ctMark());
      case "conntrack" -> conntrack(o, ctx);
      case "state" ->
          o.name().equals("--state")
              ? bool(List.of(o.arg().split(",")).contains(ctx.ctState()), o)
              : unknownOption(module, o);
      case "addrtype" -> addrtype(o, m, ctx);
      case "statistic" -> statistic(o, m);
      case "recent" -> recent(o, m, ctx);
      case "set" -> set(o, m, ctx);
      case "physdev" -> physdev(o, ctx);
      case "limit" -> MatchResult.YES;
      case "pkttype" ->
          o.name().equals("--pkt-type")
              ? bool(o.arg().equals("unicast"), o)
              : unknownOption(module, o);
      case "iprange" -> iprange(o, p);
      default -> unknownModule(module);
    };
  }

  private static MatchResult unknownOption(String module, XtOption o) {
    return new MatchResult.Unknown(
        "cannot evaluate -m "
            + module
            + " "
            + o.name()
            + ": treated as no-match; verdict uncertain");
  }

  private static MatchResult basic(XtOption o, PacketContext ctx) {
    Packet p = ctx.packet();
    return switch (o.name()) {
      case "-s" -> bool(cidr(o.arg()).contains(p.src()), o);
      case "-d" -> bool(cidr(o.arg()).contains(p.dst()), o);
      case "-i" -> bool(ctx.iif().map(i -> ifaceMatches(o.arg(), i)).orElse(false), o);
      case "-o" -> bool(ctx.oif().map(i -> ifaceMatches(o.arg(), i)).orElse(false), o);
      case "-p" -> bool(protoMatches(o.arg(), p.proto()), o);
      case "-f" -> bool(false, o);
      default -> new MatchResult.Unknown("cannot evaluate " + o.name() + ": verdict uncertain");
    };
  }

  /** A CIDR, or an address as its host prefix (/32 or /128). */
  static Cidr cidr(String s) {
    return Cidr.parse(s.contains("/") ? s : s + "/" + IpFamily.of(s).bits());
  }

  /** iptables interface names: a trailing '+' matches any suffix. */
  static boolean ifaceMatches(String pattern, String iface) {
    return pattern.endsWith("+")
        ? iface.startsWith(pattern.substring(0, pattern.length() - 1))
        : pattern.equals(iface);
  }

  private static final Map<String, String> PROTO_NUMBERS =
      Map.of(
          "6",
          "tcp",
          "17",
          "udp",
          "1",
          "icmp",
          "132",
          "sctp",
          "58",
          "icmpv6",
          "ipv6-icmp",
          "icmpv6");

  static boolean protoMatches(String want, String proto) {
    String w = want.toLowerCase(Locale.ROOT);
    return w.equals("all") || w.equals("0") || PROTO_NUMBERS.getOrDefault(w, w).equals(proto);
  }

  private static MatchResult ports(String module, XtOption o, Packet p) {
    if (!p.proto().equals(module)) {
      return MatchResult.NO;
    }
    return switch (o.name()) {
      case "--dport", "--destination-port" -> bool(inRange(o.arg(), p.dport()), o);
      case "--sport", "--source-port" -> bool(inRange(o.arg(), p.sport()), o);
      // The traced packet opens its connection: a TCP SYN.
      case "--syn" -> bool(true, o);
      case "--tcp-flags" -> {
        List<String> mask = Arrays.asList(o.args().get(0).split(","));
        List<String> set = Arrays.asList(o.args().get(1).split(","));
        boolean synOnly =
            (mask.contains("SYN") || mask.contains("ALL"))
                ? set.contains("SYN") && set.stream().allMatch(f -> f.equals("SYN"))
                : set.isEmpty() || set.contains("NONE");
        yield bool(synOnly, o);
      }
      default -> unknownOption(module, o);
    };
  }

  static boolean inRange(String spec, int port) {
    int colon = spec.indexOf(':');
    if (colon >= 0) {
      int lo = colon == 0 ? 0 : Integer.parseInt(spec.substring(0, colon));
      int hi = colon == spec.length() - 1 ? 65535 : Integer.parseInt(spec.substring(colon + 1));
      return port >= lo && port <= hi;
    }
    return Integer.parseInt(spec) == port;
  }

  private static MatchResult icmp(XtOption o, Packet p) {
    if (!p.proto().equals("icmp")) {
      return MatchResult.NO;
    }
    if (!o.name().equals("--icmp-type")) {
      return unknownOption("icmp", o);
    }
    String t = o.arg();
    // The traced ICMP packet is an echo request (type 8, code 0).
    boolean echo =
        t.equals("any")
            || t.equals("echo-request")
            || t.equals("8")
            || t.equals("8/0")
            || t.equals("ping");
    return bool(echo, o);
  }

  private static MatchResult icmp6(XtOption o, Packet p) {
    if (!p.proto().equals("icmpv6")) {
      return MatchResult.NO;
    }
    if (!o.name().equals("--icmpv6-type")) {
      return unknownOption("icmp6", o);
    }
    String t = o.arg();
    // The traced ICMPv6 packet is an echo request (type 128, code 0).
    boolean echo =
        t.equals("any") || t.equals("echo-request") || t.equals("128") || t.equals("128/0");
    return bool(echo, o);
  }

  private static MatchResult multiport(XtOption o, Packet p) {
    if (!p.hasPorts()) {
      return MatchResult.NO;
    }
    List<String> specs = List.of(o.arg().split(","));
    return switch (o.name()) {
      case "--dports", "--destination-ports" ->
          bool(specs.stream().anyMatch(s -> inRange(s, p.dport())), o);
      case "--sports", "--source-ports" ->
          bool(specs.stream().anyMatch(s -> inRange(s, p.sport())), o);
      case "--ports" ->
          bool(specs.stream().anyMatch(s -> inRange(s, p.sport()) || inRange(s, p.dport())), o);
      default -> unknownOption("multiport", o);
    };
  }

  private static MatchResult markMatch(XtOption o, long mark) {
    String[] vm = o.arg().split("/");
    long value = parseNumber(vm[0]);
    long mask = vm.length > 1 ? parseNumber(vm[1]) : 0xffffffffL;
    return bool((mark & mask) == value, o);
  }

  static long parseNumber(String s) {
    return KernelDumpParser.number(s);
  }

  private static MatchResult conntrack(XtOption o, PacketContext ctx) {
    return switch (o.name()) {
      case "--ctstate" -> {
        boolean any = false;
        for (String s : o.arg().split(",")) {
          any |=
              s.equals(ctx.ctState())
                  || (s.equals("DNAT") && ctx.dnat())
                  || (s.equals("SNAT") && ctx.snat());
        }
        yield bool(any, o);
      }
      case "--ctstatus" -> {
        boolean any = false;
        for (String s : o.arg().split(",")) {
          // A first packet's connection is neither seen-reply nor assured nor confirmed.
          any |= s.equals("NONE");
        }
        yield bool(any, o);
      }
      case "--ctdir" -> bool(o.arg().equals("ORIGINAL"), o);
      case "--ctproto" -> bool(protoMatches(o.arg(), ctx.original().proto()), o);
      case "--ctorigsrc" -> bool(cidr(o.arg()).contains(ctx.original().src()), o);
      case "--ctorigdst" -> bool(cidr(o.arg()).contains(ctx.original().dst()), o);
      case "--ctorigdstport" -> bool(inRange(o.arg(), ctx.original().dport()), o);
      case "--ctorigsrcport" -> bool(inRange(o.arg(), ctx.original().sport()), o);
      // The reply tuple: the original with the NAT applied so far, reversed.
      case "--ctreplsrc" -> bool(cidr(o.arg()).contains(ctx.packet().dst()), o);
      case "--ctrepldst" -> bool(cidr(o.arg()).contains(ctx.packet().src()), o);
      default -> unknownOption("conntrack", o);
    };
  }

  private static MatchResult addrtype(XtOption o, XtMatch m, PacketContext ctx) {
    boolean src;
    switch (o.name()) {
      case "--src-type" -> src = true;
      case "--dst-type" -> src = false;
      case "--limit-iface-in", "--limit-iface-out" -> {
        return MatchResult.YES;
      }
      default -> {
        return unknownOption("addrtype", o);
      }
    }
    Optional<String> limit =
        m.option("--limit-iface-in").isPresent()
            ? ctx.iif()
            : m.option("--limit-iface-out").isPresent() ? ctx.oif() : Optional.empty();
    String type = addressType(ctx, src ? ctx.packet().src() : ctx.packet().dst(), limit);
    return bool(List.of(o.arg().split(",")).contains(type), o);
  }

  /**
   * The address type as the kernel's {@code inet_addr_type} sees it: the type of the route for it
   * in the local table (LOCAL, BROADCAST), else UNICAST; class D is MULTICAST.
   */
  public static String addressType(
      PacketContext ctx, IpAddress address, Optional<String> limitIface) {
    if (address.family() == IpFamily.IPV6) {
      // ipv6_addr_type: ff00::/8 is multicast, :: unspecified; IPv6 has no broadcast.
      if ((address.high() >>> 56) == 0xff) {
        return "MULTICAST";
      }
      if (address.high() == 0 && address.low() == 0) {
        return "UNSPEC";
      }
    } else {
      int addr = address.v4();
      if ((addr & 0xf0000000) == 0xe0000000) {
        return "MULTICAST";
      }
      if (addr == 0xffffffff) {
        return "BROADCAST";
      }
      if (addr == 0) {
        return "UNSPEC";
      }
    }
    IpAddress addr = address;
    Optional<RouteEntry> r = RoutingTable.longestMatch(ctx.ns(), "local", addr);
    if (r.isPresent() && (r.get().type().equals("local") || r.get().type().equals("broadcast"))) {
      if (limitIface.isPresent()
          && r.get().nexthops().stream()
              .noneMatch(n -> n.dev().map(d -> d.equals(limitIface.get())).orElse(false))) {
        return "UNICAST";
      }
      return r.get().type().toUpperCase(Locale.ROOT);
    }
    return "UNICAST";
  }

  private static MatchResult statistic(XtOption o, XtMatch m) {
    String mode = m.option("--mode").map(XtOption::arg).orElse("random");
    if (!mode.equals("random")) {
      return new MatchResult.Unknown(
          "cannot evaluate -m statistic --mode " + mode + " (a packet counter): verdict uncertain");
    }
    return switch (o.name()) {
      case "--mode" -> MatchResult.YES;
      case "--probability" -> {
        double prob = Double.parseDouble(o.arg());
        yield new MatchResult.Fork(o.negated() ? 1 - prob : prob, "random " + o.arg());
      }
      default -> unknownOption("statistic", o);
    };
  }

  private static MatchResult recent(XtOption o, XtMatch m, PacketContext ctx) {
    String name = m.option("--name").map(XtOption::arg).orElse("DEFAULT");
    boolean dest = m.option("--rdest").isPresent();
    return switch (o.name()) {
      case "--name",
          "--rsource",
          "--rdest",
          "--seconds",
          "--reap",
          "--hitcount",
          "--mask",
          "--rttl" ->
          MatchResult.YES;
      case "--set" -> bool(true, o);
      case "--rcheck", "--update", "--remove" -> {
        List<String> list = ctx.ns().recentLists().get(name);
        if (list == null) {
          yield new MatchResult.Unknown(
              "cannot evaluate -m recent --name " + name + ": its list was not captured");
        }
        String addr = (dest ? ctx.packet().dst() : ctx.packet().src()).toString();
        yield bool(list.contains(addr), o);
      }
      default -> unknownOption("recent", o);
    };
  }

  private static MatchResult set(XtOption o, XtMatch m, PacketContext ctx) {
    return switch (o.name()) {
      case "--match-set" -> {
        Optional<Boolean> in =
            ctx.ipsets().contains(o.args().get(0), o.args().get(1), ctx.packet());
        if (in.isEmpty()) {
          yield new MatchResult.Unknown(
              "cannot evaluate -m set --match-set "
                  + o.args().get(0)
                  + ": set type not modelled; treated as no-match; verdict uncertain");
        }
        yield bool(in.get(), o);
      }
      case "--return-nomatch", "--update-counters", "--update-subcounters" -> MatchResult.YES;
      default -> unknownOption("set", o);
    };
  }

  /** Bridge ports of a bridged packet (br_netfilter); a routed packet has none. */
  private static MatchResult physdev(XtOption o, PacketContext ctx) {
    return switch (o.name()) {
      case "--physdev-in" -> bool(ctx.physIn().map(p -> ifaceMatches(o.arg(), p)).orElse(false), o);
      case "--physdev-out" ->
          bool(ctx.physOut().map(p -> ifaceMatches(o.arg(), p)).orElse(false), o);
      case "--physdev-is-in" -> bool(ctx.physIn().isPresent(), o);
      case "--physdev-is-out" -> bool(ctx.physOut().isPresent(), o);
      case "--physdev-is-bridged" -> bool(ctx.physIn().isPresent() && ctx.physOut().isPresent(), o);
      default -> unknownOption("physdev", o);
    };
  }

  private static MatchResult iprange(XtOption o, Packet p) {
    String[] r = o.arg().split("-");
    IpAddress lo = IpAddress.parse(r[0]);
    IpAddress hi = IpAddress.parse(r[1]);
    IpAddress a =
        switch (o.name()) {
          case "--src-range" -> p.src();
          case "--dst-range" -> p.dst();
          default -> lo;
        };
    return bool(a.family() == lo.family() && a.compareTo(lo) >= 0 && a.compareTo(hi) <= 0, o);
  }

  /** Calico's raw-table check: a route back to the source leaves by the input interface. */
  private static MatchResult rpfilter(XtMatch m, PacketContext ctx) {
    boolean loose = m.option("--loose").isPresent();
    RouteDecision back =
        RoutingTable.decide(
            ctx.ns(),
            ctx.packet().dst(),
            ctx.packet().src(),
            ctx.packet().mark(),
            "lo",
            Optional.empty());
    boolean valid =
        back.found()
            && (loose
                || back.route().get().nexthops().stream().anyMatch(n -> n.dev().equals(ctx.iif())));
    return (valid != m.option("--invert").isPresent()) ? MatchResult.YES : MatchResult.NO;
  }
}
