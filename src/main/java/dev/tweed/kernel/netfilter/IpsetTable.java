package dev.tweed.kernel.netfilter;

import dev.tweed.kernel.Packet;
import dev.tweed.model.Cidr;
import dev.tweed.model.IpAddress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** The sets of an {@code ipset save} dump, and membership tests as {@code -m set} asks them. */
public final class IpsetTable {
  /** One set: its type and its entries as ipset printed them. */
  public record Ipset(String name, String type, List<String> entries) {}

  private final Map<String, Ipset> sets;

  private IpsetTable(Map<String, Ipset> sets) {
    this.sets = sets;
  }

  public static IpsetTable parse(String save) {
    Map<String, String> types = new LinkedHashMap<>();
    Map<String, List<String>> entries = new LinkedHashMap<>();
    for (String line : save.split("\n")) {
      String[] f = line.strip().split("\\s+", 3);
      if (f.length >= 3 && f[0].equals("create")) {
        types.put(f[1], f[2].split("\\s+")[0]);
        entries.putIfAbsent(f[1], new ArrayList<>());
      } else if (f.length >= 3 && f[0].equals("add")) {
        entries.computeIfAbsent(f[1], k -> new ArrayList<>()).add(f[2]);
      }
    }
    Map<String, Ipset> out = new LinkedHashMap<>();
    types.forEach((n, t) -> out.put(n, new Ipset(n, t, List.copyOf(entries.get(n)))));
    return new IpsetTable(out);
  }

  public Optional<Ipset> set(String name) {
    return Optional.ofNullable(sets.get(name));
  }

  /**
   * Whether the packet is in the set, looking at the dimensions {@code flags} names
   * ("src,dst,dst"); empty when the set's type is not modelled.
   */
  public Optional<Boolean> contains(String name, String flags, Packet p) {
    Ipset s = sets.get(name);
    if (s == null) {
      return Optional.of(false);
    }
    String[] dims = flags.split(",");
    String[] typeDims = s.type().substring(s.type().indexOf(':') + 1).split(",");
    if (s.type().equals("list:set")) {
      for (String member : s.entries()) {
        Optional<Boolean> r = contains(member.split("\\s+")[0], flags, p);
        if (r.isEmpty()) {
          return r;
        }
        if (r.get()) {
          return r;
        }
      }
      return Optional.of(false);
    }
    if (!s.type().startsWith("hash:") && !s.type().equals("bitmap:port")) {
      return Optional.empty();
    }
    boolean matched = false;
    for (String entry : s.entries()) {
      String[] words = entry.split("\\s+");
      boolean nomatch = List.of(words).contains("nomatch");
      String[] parts = words[0].split(",");
      if (parts.length != typeDims.length) {
        return Optional.empty();
      }
      boolean all = true;
      for (int i = 0; i < typeDims.length && all; i++) {
        String dir = i < dims.length ? dims[i] : dims[dims.length - 1];
        boolean src = dir.equals("src");
        switch (typeDims[i]) {
          case "ip", "net" -> {
            IpAddress addr = src ? p.src() : p.dst();
            all =
                Cidr.parse(
                        parts[i].contains("/") ? parts[i] : parts[i] + "/" + addr.family().bits())
                    .contains(addr);
          }
          case "port" -> all = portMatches(parts[i], p, src);
          default -> {
            return Optional.empty();
          }
        }
      }
      if (all) {
        if (nomatch) {
          // The most specific entry decides in hash:net; an exception is more specific than the
          // block it is carved from.
          return Optional.of(false);
        }
        matched = true;
      }
    }
    return Optional.of(matched);
  }

  private static boolean portMatches(String spec, Packet p, boolean src) {
    int port = src ? p.sport() : p.dport();
    String proto = "tcp";
    String num = spec;
    int colon = spec.indexOf(':');
    if (colon > 0 && !Character.isDigit(spec.charAt(0))) {
      proto = spec.substring(0, colon);
      num = spec.substring(colon + 1);
    }
    if (!proto.equals(p.proto())) {
      return false;
    }
    int dash = num.indexOf('-');
    if (dash > 0) {
      return port >= Integer.parseInt(num.substring(0, dash))
          && port <= Integer.parseInt(num.substring(dash + 1));
    }
    return Integer.parseInt(num) == port;
  }
}
