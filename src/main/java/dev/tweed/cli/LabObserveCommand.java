package dev.tweed.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.lab.Lab;
import dev.tweed.lab.LabFlows;
import dev.tweed.lab.LabLayout;
import dev.tweed.lab.LabState;
import dev.tweed.model.Json;
import dev.tweed.observe.Flow;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code tweed lab observe}: the flows the nodes see, as {@code hubble observe} shows them. */
@picocli.CommandLine.Command(
    name = "observe",
    description =
        "The flows the nodes' datapaths report (eBPF datapath): connections let through, packets"
            + " dropped or refused, with pods, policies and Services, one per line.")
final class LabObserveCommand implements Callable<Integer> {
  @Mixin LabOption lab;

  @Option(names = "--node", description = "Only this node's flows.")
  String node;

  @Option(names = "--pod", paramLabel = "NS/POD", description = "Flows from or to this pod.")
  String pod;

  @Option(names = "--namespace", description = "Flows from or to a pod of this namespace.")
  String namespace;

  @Option(names = "--verdict", description = "FORWARDED | DROPPED | REJECTED")
  String verdict;

  @Option(
      names = "--to-service",
      paramLabel = "NS/NAME",
      description = "Flows sent to this Service.")
  String toService;

  @Option(names = "--since", description = "Only flows this recent: 30s, 5m, 1h.")
  String since;

  @Option(names = "--last", description = "Only the last N flows (before --follow).")
  Integer last;

  @Option(names = "--follow", description = "Keep printing flows as they come.")
  boolean follow;

  @Option(
      names = {"-o", "--output"},
      defaultValue = "compact",
      description = "compact | json (one object per line)")
  String output;

  @Override
  public Integer call() throws Exception {
    if (!output.equals("compact") && !output.equals("json")) {
      System.err.println("-o must be compact or json, got " + output);
      return 2;
    }
    if (verdict != null
        && !List.of("FORWARDED", "DROPPED", "REJECTED").contains(verdict.toUpperCase())) {
      System.err.println("--verdict must be FORWARDED, DROPPED or REJECTED, got " + verdict);
      return 2;
    }
    Lab l = LabCommand.requireLab(lab);
    LabState state = LabState.read(l.layout()).orElseThrow();
    List<String> nodes = new ArrayList<>();
    for (int i = 1; i <= state.nodes(); i++) {
      nodes.add(LabLayout.nodeName(i));
    }
    if (node != null) {
      if (!nodes.contains(node)) {
        System.err.println("no node " + node + " in lab " + l.layout().name());
        return 2;
      }
      nodes = List.of(node);
    }
    var filter =
        new LabFlows.Filter(
            Optional.ofNullable(pod),
            Optional.ofNullable(namespace),
            Optional.ofNullable(verdict),
            Optional.ofNullable(toService),
            Optional.ofNullable(since).map(LabObserveCommand::duration));
    LabFlows flows = new LabFlows(l.layout(), nodes);
    List<JsonNode> first = flows.poll(filter);
    if (last != null && first.size() > last) {
      first = first.subList(first.size() - last, first.size());
    }
    first.forEach(this::print);
    while (follow) {
      Thread.sleep(500);
      flows.poll(filter).forEach(this::print);
    }
    return 0;
  }

  private void print(JsonNode f) {
    System.out.println(output.equals("json") ? Json.write(f) : Flow.compact(f));
    System.out.flush();
  }

  static Duration duration(String s) {
    char unit = s.charAt(s.length() - 1);
    long n = Long.parseLong(s.substring(0, s.length() - 1));
    return switch (unit) {
      case 's' -> Duration.ofSeconds(n);
      case 'm' -> Duration.ofMinutes(n);
      case 'h' -> Duration.ofHours(n);
      default -> throw new IllegalArgumentException("--since wants 30s, 5m or 1h, got " + s);
    };
  }
}
