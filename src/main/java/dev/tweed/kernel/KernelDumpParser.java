package dev.tweed.kernel;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.model.Cidr;
import dev.tweed.model.IpFamily;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Parses the JSON of {@code ip -j -d addr}, {@code ip -j route show table all}, {@code ip -j rule},
 * {@code ip -j neigh}, {@code bridge -j fdb}, and the text of {@code sysctl} and {@code ss -Hlntu},
 * into the kernel model's records.
 */
public final class KernelDumpParser {
  private KernelDumpParser() {}

  public static List<Link> links(JsonNode addrJson) {
    List<Link> out = new ArrayList<>();
    for (JsonNode l : addrJson) {
      JsonNode info = l.path("linkinfo");
      String kind = info.path("info_kind").asText("");
      if (kind.isEmpty()) {
        kind = l.path("link_type").asText("").equals("loopback") ? "loopback" : "device";
      }
      List<String> flags = new ArrayList<>();
      l.path("flags").forEach(f -> flags.add(f.asText()));
      List<Link.IfAddress> addrs = new ArrayList<>();
      for (JsonNode a : l.path("addr_info")) {
        String family = a.path("family").asText();
        if (family.equals("inet") || family.equals("inet6")) {
          addrs.add(new Link.IfAddress(a.path("local").asText(), a.path("prefixlen").asInt()));
        }
      }
      Optional<Link.Vxlan> vxlan = Optional.empty();
      if (kind.equals("vxlan")) {
        JsonNode d = info.path("info_data");
        vxlan =
            Optional.of(
                new Link.Vxlan(
                    d.path("id").asInt(),
                    // ip names an IPv6 tunnel end local6.
                    text(d, "local").or(() -> text(d, "local6")),
                    d.path("port").asInt(4789),
                    text(d, "link"),
                    d.path("external").asBoolean(false)));
      }
      out.add(
          new Link(
              l.path("ifindex").asInt(),
              l.path("ifname").asText(),
              kind,
              l.path("address").asText(""),
              flags.contains("UP"),
              flags.contains("NOARP"),
              text(l, "master"),
              l.has("link_index") ? Optional.of(l.path("link_index").asInt()) : Optional.empty(),
              l.has("link_netnsid")
                  ? Optional.of(l.path("link_netnsid").asInt())
                  : Optional.empty(),
              vxlan,
              List.copyOf(addrs)));
    }
    return List.copyOf(out);
  }

  /** Routes of {@code family}, as {@code ip -4|-6 -j route show table all} prints them. */
  public static List<RouteEntry> routes(JsonNode routeJson, IpFamily family) {
    List<RouteEntry> out = new ArrayList<>();
    for (JsonNode r : routeJson) {
      String dst = r.path("dst").asText();
      if (!dst.equals("default") && IpFamily.of(dst) != family) {
        continue;
      }
      Cidr cidr =
          dst.equals("default")
              ? Cidr.any(family)
              : Cidr.parse(dst.contains("/") ? dst : dst + "/" + family.bits());
      List<RouteEntry.Nexthop> nexthops = new ArrayList<>();
      if (r.has("nexthops")) {
        for (JsonNode n : r.path("nexthops")) {
          nexthops.add(nexthop(n));
        }
      } else if (r.has("dev") || r.has("gateway")) {
        nexthops.add(nexthop(r));
      }
      out.add(
          new RouteEntry(
              r.path("table").asText("main"),
              r.path("type").asText("unicast"),
              cidr,
              List.copyOf(nexthops),
              text(r, "prefsrc"),
              r.path("protocol").asText("boot"),
              r.path("scope").asText("global"),
              r.path("metric").asInt(0),
              routeText(r)));
    }
    return List.copyOf(out);
  }

  private static RouteEntry.Nexthop nexthop(JsonNode n) {
    boolean onlink = false;
    for (JsonNode f : n.path("flags")) {
      onlink |= f.asText().equals("onlink");
    }
    return new RouteEntry.Nexthop(text(n, "gateway"), text(n, "dev"), onlink);
  }

  /** The route as {@code ip route} prints it, for people reading a trace. */
  static String routeText(JsonNode r) {
    StringBuilder sb = new StringBuilder();
    String type = r.path("type").asText("unicast");
    if (!type.equals("unicast")) {
      sb.append(type).append(' ');
    }
    sb.append(r.path("dst").asText());
    if (r.has("gateway")) {
      sb.append(" via ").append(r.path("gateway").asText());
    }
    if (r.has("dev")) {
      sb.append(" dev ").append(r.path("dev").asText());
    }
    for (JsonNode n : r.path("nexthops")) {
      sb.append(" nexthop");
      if (n.has("gateway")) {
        sb.append(" via ").append(n.path("gateway").asText());
      }
      if (n.has("dev")) {
        sb.append(" dev ").append(n.path("dev").asText());
      }
    }
    String table = r.path("table").asText("main");
    if (!table.equals("main")) {
      sb.append(" table ").append(table);
    }
    if (r.has("protocol") && !r.path("protocol").asText().equals("boot")) {
      sb.append(" proto ").append(r.path("protocol").asText());
    }
    if (r.has("scope") && !r.path("scope").asText().equals("global")) {
      sb.append(" scope ").append(r.path("scope").asText());
    }
    if (r.has("prefsrc")) {
      sb.append(" src ").append(r.path("prefsrc").asText());
    }
    if (r.has("metric")) {
      sb.append(" metric ").append(r.path("metric").asInt());
    }
    for (JsonNode f : r.path("flags")) {
      sb.append(' ').append(f.asText());
    }
    return sb.toString();
  }

  /** Rules of {@code family}, as {@code ip -4|-6 -j rule} prints them. */
  public static List<RoutingRule> rules(JsonNode ruleJson, IpFamily family) {
    List<RoutingRule> out = new ArrayList<>();
    for (JsonNode r : ruleJson) {
      Optional<Cidr> src = prefix(r, "src", "srclen");
      Optional<Cidr> dst = prefix(r, "dst", "dstlen");
      Optional<Long> fwmark = text(r, "fwmark").map(KernelDumpParser::number);
      long mask = text(r, "fwmask").map(KernelDumpParser::number).orElse(0xffffffffL);
      String action = r.path("action").asText("lookup");
      if (r.has("goto")) {
        action = "goto";
      }
      StringBuilder sb = new StringBuilder();
      sb.append(r.path("priority").asInt()).append(":\t");
      if (r.path("not").asBoolean(false)) {
        sb.append("not ");
      }
      sb.append("from ").append(src.map(Cidr::toString).orElse("all"));
      dst.ifPresent(d -> sb.append(" to ").append(d));
      fwmark.ifPresent(m -> sb.append(" fwmark 0x").append(Long.toHexString(m)));
      text(r, "iif").ifPresent(i -> sb.append(" iif ").append(i));
      text(r, "oif").ifPresent(i -> sb.append(" oif ").append(i));
      sb.append(
          action.equals("lookup") ? " lookup " + r.path("table").asText("main") : " " + action);
      out.add(
          new RoutingRule(
              family,
              r.path("priority").asInt(),
              r.path("not").asBoolean(false),
              src,
              dst,
              fwmark,
              mask,
              text(r, "iif"),
              text(r, "oif"),
              action,
              r.path("table").asText("main"),
              sb.toString()));
    }
    return List.copyOf(out);
  }

  private static Optional<Cidr> prefix(JsonNode r, String field, String lenField) {
    String v = r.path(field).asText("all");
    if (v.equals("all")) {
      return Optional.empty();
    }
    if (v.contains("/")) {
      return Optional.of(Cidr.parse(v));
    }
    return Optional.of(Cidr.parse(v + "/" + r.path(lenField).asInt(IpFamily.of(v).bits())));
  }

  public static List<NeighbourEntry> neighbours(JsonNode neighJson, boolean proxy) {
    List<NeighbourEntry> out = new ArrayList<>();
    for (JsonNode n : neighJson) {
      List<String> state = new ArrayList<>();
      n.path("state").forEach(s -> state.add(s.asText()));
      out.add(
          new NeighbourEntry(
              n.path("dst").asText(),
              n.path("dev").asText(),
              text(n, "lladdr"),
              List.copyOf(state),
              proxy));
    }
    return List.copyOf(out);
  }

  public static List<BridgeFdbEntry> fdb(JsonNode fdbJson) {
    List<BridgeFdbEntry> out = new ArrayList<>();
    for (JsonNode f : fdbJson) {
      boolean self = false;
      for (JsonNode fl : f.path("flags")) {
        self |= fl.asText().equals("self");
      }
      out.add(
          new BridgeFdbEntry(
              f.path("mac").asText(),
              f.has("ifname") ? f.path("ifname").asText() : f.path("dev").asText(),
              text(f, "master"),
              text(f, "dst"),
              self));
    }
    return List.copyOf(out);
  }

  /** {@code sysctl} output: "key = value" lines. */
  public static Map<String, String> sysctls(String text) {
    Map<String, String> out = new LinkedHashMap<>();
    for (String line : text.split("\n")) {
      int eq = line.indexOf(" = ");
      if (eq > 0) {
        out.put(line.substring(0, eq).strip(), line.substring(eq + 3).strip());
      }
    }
    return out;
  }

  /** {@code ss -Hlntu} output: netid, state, queues, local address:port, peer. */
  public static List<Listener> listeners(String text) {
    List<Listener> out = new ArrayList<>();
    for (String line : text.split("\n")) {
      String[] f = line.strip().split("\\s+");
      if (f.length < 5) {
        continue;
      }
      String local = f[4];
      int colon = local.lastIndexOf(':');
      if (colon < 0) {
        continue;
      }
      String addr = local.substring(0, colon);
      int pct = addr.indexOf('%');
      if (pct >= 0) {
        addr = addr.substring(0, pct);
      }
      if (addr.startsWith("[")) {
        addr = addr.substring(1, addr.length() - (addr.endsWith("]") ? 1 : 0));
      }
      int port;
      try {
        port = Integer.parseInt(local.substring(colon + 1));
      } catch (NumberFormatException e) {
        continue; // "*" ports: nothing to accept.
      }
      out.add(new Listener(f[0], addr, port));
      if (addr.equals("::")) {
        // "[::]" also takes IPv4 unless bindv6only, as the JDK's sockets do.
        out.add(new Listener(f[0], "0.0.0.0", port));
      }
    }
    return List.copyOf(out);
  }

  /** "0x4000" or "16384", as the kernel's tools print marks and masks. */
  public static long number(String s) {
    return s.startsWith("0x") ? Long.parseLong(s.substring(2), 16) : Long.parseLong(s);
  }

  private static Optional<String> text(JsonNode n, String field) {
    return n.has(field) && !n.path(field).isNull()
        ? Optional.of(n.path(field).asText())
        : Optional.empty();
  }
}
