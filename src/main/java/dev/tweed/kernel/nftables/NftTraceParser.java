package dev.tweed.kernel.nftables;

import dev.tweed.kernel.nftables.NftTraceEvent.Header;
import dev.tweed.kernel.nftables.NftTraceEvent.Kind;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Reads the lines {@code nft -a monitor trace} prints (nftables 1.0). */
public final class NftTraceParser {
  private static final Pattern LINE =
      Pattern.compile(
          "^trace id (\\w+) (\\w+) (\\S+) (\\S+) (packet: |rule |unknown rule |policy |verdict )(.*)$");
  private static final Pattern RULE =
      Pattern.compile("^(.*?)\\s*# handle (\\d+) \\(verdict (.+)\\)\\s*$");

  private static final Pattern UNKNOWN = Pattern.compile("^handle (\\d+) \\(verdict (.+)\\)\\s*$");

  /** iptables-nft rules carry counters; their values say nothing about the path. */
  private static final Pattern COUNTER = Pattern.compile("\\s*counter packets \\d+ bytes \\d+");

  private static final Pattern SADDR = Pattern.compile("\\bip6? saddr (\\S+)");
  private static final Pattern DADDR = Pattern.compile("\\bip6? daddr (\\S+)");
  private static final Pattern PROTOCOL = Pattern.compile("\\b(?:ip protocol|ip6 nexthdr) (\\S+)");
  private static final Pattern PORTS =
      Pattern.compile("\\b(tcp|udp|sctp) sport (\\d+) \\1 dport (\\d+)");

  private NftTraceParser() {}

  /** The event on one line; empty for lines that are not trace events (blank lines, warnings). */
  public static Optional<NftTraceEvent> parse(String line) {
    Matcher m = LINE.matcher(line.strip());
    if (!m.matches()) {
      return Optional.empty();
    }
    String id = m.group(1);
    String family = m.group(2);
    String table = m.group(3);
    String chain = m.group(4);
    String tail = m.group(6).strip();
    return Optional.of(
        switch (m.group(5).strip()) {
          case "packet:" ->
              new NftTraceEvent(
                  id, family, table, chain, Kind.PACKET, Optional.empty(), "", header(tail), tail);
          case "rule" -> {
            Matcher r = RULE.matcher(tail);
            if (!r.matches()) {
              throw new IllegalArgumentException(
                  "a trace rule event without a handle (run nft with -a): " + line);
            }
            yield new NftTraceEvent(
                id,
                family,
                table,
                chain,
                Kind.RULE,
                Optional.of(Long.parseLong(r.group(2))),
                r.group(3),
                Optional.empty(),
                COUNTER.matcher(r.group(1)).replaceAll("").strip());
          }
          case "unknown rule" -> {
            // nft names rules from the cache it read at start; rules written since (a full sync
            // rewrites chains) are only known by handle.
            Matcher r = UNKNOWN.matcher(tail);
            if (!r.matches()) {
              throw new IllegalArgumentException("an unreadable trace rule event: " + line);
            }
            yield new NftTraceEvent(
                id,
                family,
                table,
                chain,
                Kind.RULE,
                Optional.of(Long.parseLong(r.group(1))),
                r.group(2),
                Optional.empty(),
                "rule handle " + r.group(1));
          }
          case "policy" ->
              new NftTraceEvent(
                  id,
                  family,
                  table,
                  chain,
                  Kind.POLICY,
                  Optional.empty(),
                  tail,
                  Optional.empty(),
                  tail);
          default ->
              new NftTraceEvent(
                  id,
                  family,
                  table,
                  chain,
                  Kind.RETURN,
                  Optional.empty(),
                  tail,
                  Optional.empty(),
                  tail);
        });
  }

  private static Optional<Header> header(String s) {
    Matcher src = SADDR.matcher(s);
    Matcher dst = DADDR.matcher(s);
    if (!src.find() || !dst.find()) {
      return Optional.empty();
    }
    Matcher ports = PORTS.matcher(s);
    if (ports.find()) {
      return Optional.of(
          new Header(
              src.group(1),
              dst.group(1),
              ports.group(1),
              Integer.parseInt(ports.group(2)),
              Integer.parseInt(ports.group(3))));
    }
    if (s.contains("icmp type ")) {
      return Optional.of(new Header(src.group(1), dst.group(1), "icmp", 0, 0));
    }
    if (s.contains("icmpv6 type ")) {
      return Optional.of(new Header(src.group(1), dst.group(1), "icmpv6", 0, 0));
    }
    Matcher proto = PROTOCOL.matcher(s);
    return Optional.of(
        new Header(src.group(1), dst.group(1), proto.find() ? proto.group(1) : "?", 0, 0));
  }
}
