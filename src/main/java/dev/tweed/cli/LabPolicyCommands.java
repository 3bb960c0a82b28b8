package dev.tweed.cli;

import dev.tweed.datastore.Datastore;
import dev.tweed.lab.Lab;
import dev.tweed.lab.LabState;
import dev.tweed.lab.LabStores;
import dev.tweed.lab.NetpolConformance;
import dev.tweed.lab.service.LabService;
import dev.tweed.lab.service.ReachabilityAnswer;
import dev.tweed.lab.service.ReachabilityRequest;
import dev.tweed.model.IpFamily;
import dev.tweed.model.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** The lab's policy tools: the reachability matrix and the conformance suite. */
final class LabPolicyCommands {
  private LabPolicyCommands() {}

  @Command(
      name = "reachability",
      description =
          "Probe every ordered pair of lab pods with real traffic; print the truth table.")
  static final class Reachability implements Callable<Integer> {
    @Mixin LabOption lab;

    @Option(names = "--namespaces", split = ",", description = "Only pods of these namespaces.")
    List<String> namespaces;

    @Option(names = "--port", defaultValue = "80")
    int port;

    @Option(names = "--proto", defaultValue = "tcp", description = "tcp | udp")
    String proto;

    @Option(names = "--timeout", defaultValue = "2000", description = "Milliseconds per probe.")
    long timeoutMillis;

    @Option(
        names = "--family",
        paramLabel = "4|6|both",
        description =
            "Probe pods at their IPv4 or IPv6 addresses, or both (a matrix each); default: the"
                + " lab's primary family.")
    String family;

    @Mixin OutputOption output;

    @Override
    public Integer call() throws Exception {
      LabService service = lab.service();
      List<IpFamily> families =
          family == null
              ? List.of()
              : family.equals("both")
                  ? service.state().spec().ipFamilies().families()
                  : List.of(IpFamily.parse(family));
      ReachabilityRequest request =
          new ReachabilityRequest(
              namespaces == null ? Set.of() : Set.copyOf(namespaces),
              port,
              proto,
              Duration.ofMillis(timeoutMillis),
              families);
      boolean json = output.json();
      ReachabilityAnswer a = service.reachability(request);
      System.out.print(json ? Json.write(a.toJson()) + "\n" : a.render());
      return 0;
    }
  }

  @Command(name = "conformance", description = "Conformance suites run in the lab.")
  static final class Conformance {}

  @Command(
      name = "netpol",
      description =
          "The NetworkPolicy suite: namespaces x, y, z with pods a, b, c; every scenario probed on"
              + " TCP 80, TCP 81 and UDP 80 and compared with the expected matrix.")
  static final class Netpol implements Callable<Integer> {
    @Mixin LabOption lab;

    @Option(names = "--scenario", description = "Only scenarios whose name contains this.")
    String scenario;

    @Option(
        names = "--match",
        paramLabel = "REGEX",
        description = "Only scenarios whose name this regular expression finds something in.")
    String match;

    @Option(
        names = "--family",
        paramLabel = "4|6|both",
        description =
            "Probe (and write the scenarios' ipBlocks) in IPv4, IPv6 or each in turn; default:"
                + " the lab's primary family.")
    String family;

    @Override
    public Integer call() throws Exception {
      Lab l = LabCommand.requireLab(lab);
      LabState state = LabState.read(l.layout()).orElseThrow();
      int nodes = state.spec().nodes();
      List<IpFamily> families =
          family == null
              ? List.of(state.spec().ipFamilies().primary())
              : family.equals("both")
                  ? state.spec().ipFamilies().families()
                  : List.of(IpFamily.parse(family));
      for (IpFamily f : families) {
        if (!state.spec().ipFamilies().has(f)) {
          throw new IllegalArgumentException("the lab has no " + f.apiName());
        }
      }
      Path model = Files.createTempFile("netpol-model", ".yaml");
      try {
        Files.writeString(model, NetpolConformance.modelYaml());
        if (LabCommand.Apply.applyAndWait(l, model) != 0) {
          return 1;
        }
      } finally {
        Files.deleteIfExists(model);
      }
      boolean ok = true;
      try (Datastore store = LabStores.open(l.layout())) {
        for (IpFamily f : families) {
          if (families.size() > 1) {
            System.out.println(f.apiName() + ":");
          }
          Pattern regex = Pattern.compile(match == null ? "" : match);
          ok &=
              new NetpolConformance(l, store, nodes, System.out, f)
                  .run(
                      name ->
                          (scenario == null || name.contains(scenario))
                              && regex.matcher(name).find());
        }
      }
      return ok ? 0 : 1;
    }
  }
}
