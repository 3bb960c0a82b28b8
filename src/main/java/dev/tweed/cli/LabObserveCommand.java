package dev.tweed.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.lab.LabFlows;
import dev.tweed.lab.service.LabService;
import dev.tweed.model.Json;
import dev.tweed.observe.Flow;
import java.util.List;
import java.util.Map;
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

  @Mixin OutputOption output;

  @Override
  public Integer call() throws Exception {
    boolean json = output.json();
    LabService l = lab.service();
    List<String> nodes = node == null ? l.nodes() : List.of(node);
    var filter =
        new LabFlows.Filter(
            Optional.ofNullable(pod),
            Optional.ofNullable(namespace),
            Optional.ofNullable(verdict),
            Optional.ofNullable(toService),
            Optional.ofNullable(since).map(LabFlows.Filter::duration));
    LabFlows.Page page = l.flows(nodes, filter, Map.of());
    List<JsonNode> first = page.flows();
    if (last != null && first.size() > last) {
      first = first.subList(first.size() - last, first.size());
    }
    first.forEach(f -> print(f, json));
    Map<String, Long> cursor = page.next();
    while (follow) {
      Thread.sleep(500);
      page = l.flows(nodes, filter, cursor);
      page.flows().forEach(f -> print(f, json));
      cursor = page.next();
    }
    return 0;
  }

  private static void print(JsonNode f, boolean json) {
    System.out.println(json ? Json.write(f) : Flow.compact(f));
    System.out.flush();
  }
}
