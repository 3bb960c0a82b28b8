package dev.tweed.cli;

import dev.tweed.datastore.Datastore;
import dev.tweed.lab.Lab;
import dev.tweed.lab.LabBpfMaps;
import dev.tweed.lab.LabStores;
import dev.tweed.model.Json;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/** {@code tweed lab bpf NODE MAP}: a node's eBPF maps in words. */
@picocli.CommandLine.Command(
    name = "bpf",
    description =
        "A node's eBPF datapath maps in words (--dataplane ebpf): endpoints, ipcache, identities,"
            + " policy, conntrack, services (frontends and their backends), backends.")
final class LabBpfCommand implements Callable<Integer> {
  static final List<String> MAPS =
      List.of("endpoints", "ipcache", "identities", "policy", "conntrack", "services", "backends");

  @Mixin LabOption lab;

  @Parameters(index = "0", paramLabel = "NODE")
  String node;

  @Parameters(
      index = "1",
      paramLabel = "MAP",
      description = "endpoints | ipcache | identities | policy | conntrack | services | backends")
  String map;

  @Mixin OutputOption output;

  @Override
  public Integer call() {
    if (!MAPS.contains(map)) {
      System.err.println("unknown map '" + map + "'; one of " + String.join(", ", MAPS));
      return 2;
    }
    Lab l = LabCommand.requireLab(lab);
    try (Datastore store = LabStores.open(l.layout())) {
      LabBpfMaps maps = new LabBpfMaps(l.layout(), node, store);
      List<?> rows =
          switch (map) {
            case "endpoints" -> maps.endpoints();
            case "ipcache" -> maps.ipcache();
            case "identities" -> maps.identities();
            case "policy" -> maps.policy();
            case "services" -> maps.services();
            case "backends" -> maps.backends();
            default -> maps.conntrack();
          };
      if (output.json()) {
        System.out.println(Json.write(Json.MAPPER.valueToTree(rows)));
        return 0;
      }
      Tables.print(table(rows));
    }
    return 0;
  }

  private static List<String[]> table(List<?> rows) {
    List<String[]> out = new ArrayList<>();
    if (rows.isEmpty()) {
      out.add(new String[] {"(empty)"});
      return out;
    }
    var components = rows.get(0).getClass().getRecordComponents();
    String[] header = new String[components.length];
    for (int i = 0; i < components.length; i++) {
      header[i] = heading(components[i].getName());
    }
    out.add(header);
    for (Object r : rows) {
      String[] row = new String[components.length];
      for (int i = 0; i < components.length; i++) {
        try {
          Object v = components[i].getAccessor().invoke(r);
          row[i] = cell(v);
        } catch (ReflectiveOperationException e) {
          throw new IllegalStateException(e);
        }
      }
      out.add(row);
    }
    return out;
  }

  private static String cell(Object v) {
    if (v instanceof List<?> l) {
      return String.join(" ", l.stream().map(String::valueOf).toList());
    }
    if (v instanceof Boolean b) {
      return b ? "yes" : "no";
    }
    String s = String.valueOf(v);
    return s.isEmpty() ? "-" : s;
  }

  /** {@code tunnelEndpoint} as {@code TUNNEL ENDPOINT}. */
  private static String heading(String camel) {
    return camel.replaceAll("([a-z])([A-Z])", "$1 $2").toUpperCase(Locale.ROOT);
  }
}
