package dev.tweed.kernel;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.tweed.model.IpFamily;
import dev.tweed.model.Json;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The files of a captured namespace (what {@code tweed capture} writes, one per tool and family),
 * and their parsing into a {@link NetnsState}. A missing file means the tool was absent or had
 * nothing to say, as on a host without nftables or ipset.
 */
public final class NetnsDump {
  public static final String NAME = "netns.txt";
  public static final String ADDR = "addr.json";
  public static final String ROUTE = "route.json";
  public static final String ROUTE6 = "route6.json";
  public static final String RULE = "rule.json";
  public static final String RULE6 = "rule6.json";
  public static final String NEIGH = "neigh.json";
  public static final String NEIGH6 = "neigh6.json";
  public static final String NEIGH_PROXY = "neigh-proxy.json";
  public static final String FDB = "fdb.json";
  public static final String IPTABLES = "iptables-save.txt";
  public static final String IP6TABLES = "ip6tables-save.txt";
  public static final String IPSET = "ipset-save.txt";
  public static final String NFT = "nft.json";
  public static final String SYSCTL = "sysctl.txt";
  public static final String LISTENERS = "listeners.txt";
  public static final String RECENT = "xt_recent.txt";
  public static final String NSIDS = "netns-ids.json";
  public static final String TC_PROGRAMS = "bpf-net.json";
  public static final String BPF_MAPS = "bpf-maps.json";

  /** The files in the order a capture writes them. */
  public static final List<String> FILES =
      List.of(
          NAME,
          ADDR,
          ROUTE,
          ROUTE6,
          RULE,
          RULE6,
          NEIGH,
          NEIGH6,
          NEIGH_PROXY,
          FDB,
          IPTABLES,
          IP6TABLES,
          IPSET,
          NFT,
          SYSCTL,
          LISTENERS,
          RECENT,
          NSIDS,
          TC_PROGRAMS,
          BPF_MAPS);

  private NetnsDump() {}

  public static NetnsState parse(Map<String, String> files) {
    List<NeighbourEntry> neigh =
        new ArrayList<>(KernelDumpParser.neighbours(json(files, NEIGH), false));
    neigh.addAll(KernelDumpParser.neighbours(json(files, NEIGH6), false));
    neigh.addAll(KernelDumpParser.neighbours(json(files, NEIGH_PROXY), true));
    List<RouteEntry> routes =
        new ArrayList<>(KernelDumpParser.routes(json(files, ROUTE), IpFamily.IPV4));
    routes.addAll(KernelDumpParser.routes(json(files, ROUTE6), IpFamily.IPV6));
    List<RoutingRule> rules =
        new ArrayList<>(KernelDumpParser.rules(json(files, RULE), IpFamily.IPV4));
    rules.addAll(KernelDumpParser.rules(json(files, RULE6), IpFamily.IPV6));
    return new NetnsState(
        files.getOrDefault(NAME, "").strip(),
        KernelDumpParser.links(json(files, ADDR)),
        List.copyOf(routes),
        List.copyOf(rules),
        List.copyOf(neigh),
        KernelDumpParser.fdb(json(files, FDB)),
        files.getOrDefault(IPTABLES, ""),
        files.getOrDefault(IP6TABLES, ""),
        files.getOrDefault(IPSET, ""),
        json(files, NFT),
        KernelDumpParser.sysctls(files.getOrDefault(SYSCTL, "")),
        KernelDumpParser.listeners(files.getOrDefault(LISTENERS, "")),
        recent(files.getOrDefault(RECENT, "")),
        nsids(json(files, NSIDS)),
        json(files, TC_PROGRAMS),
        object(files, BPF_MAPS));
  }

  private static JsonNode json(Map<String, String> files, String name) {
    String text = files.getOrDefault(name, "").strip();
    if (text.isEmpty()) {
      return JsonNodeFactory.instance.arrayNode();
    }
    return Json.parse(text);
  }

  private static JsonNode object(Map<String, String> files, String name) {
    String text = files.getOrDefault(name, "").strip();
    return text.isEmpty() ? JsonNodeFactory.instance.objectNode() : Json.parse(text);
  }

  /** {@code ip -j netns list-id}: the ids this namespace gives the namespaces it knows. */
  static Map<Integer, String> nsids(JsonNode json) {
    Map<Integer, String> out = new LinkedHashMap<>();
    for (JsonNode n : json) {
      if (n.has("name")) {
        out.put(n.path("nsid").asInt(), n.path("name").asText());
      }
    }
    return Map.copyOf(out);
  }

  /**
   * "== NAME" headers, each followed by {@code /proc/net/xt_recent/NAME}'s lines ("src=1.2.3.4 ttl:
   * ...").
   */
  static Map<String, List<String>> recent(String text) {
    Map<String, List<String>> out = new LinkedHashMap<>();
    List<String> current = null;
    for (String line : text.split("\n")) {
      if (line.startsWith("== ")) {
        current = new ArrayList<>();
        out.put(line.substring(3).strip(), current);
      } else if (current != null && line.startsWith("src=")) {
        current.add(line.substring(4).split("\\s+")[0]);
      }
    }
    Map<String, List<String>> frozen = new LinkedHashMap<>();
    out.forEach((k, v) -> frozen.put(k, List.copyOf(v)));
    return frozen;
  }
}
