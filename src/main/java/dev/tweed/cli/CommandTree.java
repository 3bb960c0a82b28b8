package dev.tweed.cli;

import dev.tweed.datastore.DatastoreKind;
import dev.tweed.model.Datapath;
import dev.tweed.model.IpFamilies;
import dev.tweed.model.IpFamily;
import dev.tweed.model.ProxyMode;
import dev.tweed.model.Routing;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * Which command has which subcommands, and a builder that gives picocli only the branch a call
 * takes. Picocli reflects over every command it is given, which for the whole tree costs a quarter
 * of a second per call; {@code tweed lab get pods} needs three commands' models, not eighty. Where
 * the branch is unclear (help, an option before the subcommand, no subcommand), every child of that
 * level is given, so help and errors read as before.
 */
public final class CommandTree {
  private static final Map<Class<?>, List<Class<?>>> CHILDREN =
      Map.ofEntries(
          Map.entry(
              TweedCommand.class,
              List.of(
                  DemoCommand.class,
                  LabCommand.class,
                  AgentCommand.class,
                  HealthCommand.class,
                  CniInstallCommand.class,
                  CniShimCommand.class,
                  LabControllerCommand.class,
                  BenchCommand.class,
                  ProxyCommand.class,
                  TraceCommand.class,
                  CaptureCommand.class,
                  CommandLine.HelpCommand.class)),
          Map.entry(
              LabCommand.class,
              List.of(
                  LabCommand.Up.class,
                  LabCommand.Down.class,
                  LabCommand.Apply.class,
                  LabCommand.Delete.class,
                  LabCommand.Get.class,
                  LabCommand.Exec.class,
                  LabCommand.NodeExec.class,
                  LabCommand.Status.class,
                  LabCommand.AgentCmd.class,
                  LabCommand.Netconf.class,
                  LabCommand.Probe.class,
                  LabPolicyCommands.Reachability.class,
                  LabPolicyCommands.Conformance.class,
                  LabCommand.Capture.class,
                  LabBgpCommands.class,
                  LabBpfCommand.class,
                  LabMetricsCommand.class,
                  LabObserveCommand.class,
                  LabUiCommand.class,
                  LabEtcdCommands.class,
                  LabChaosCommand.class,
                  LabCommand.NodeCmd.class)),
          Map.entry(LabCommand.AgentCmd.class, List.of(LabCommand.AgentRestart.class)),
          Map.entry(
              LabCommand.NodeCmd.class,
              List.of(LabCommand.NodeStop.class, LabCommand.NodeStart.class)),
          Map.entry(LabBgpCommands.class, List.of(LabBgpCommands.Status.class)),
          Map.entry(
              LabEtcdCommands.class,
              List.of(
                  LabEtcdCommands.Status.class,
                  LabEtcdCommands.Stop.class,
                  LabEtcdCommands.Start.class)),
          Map.entry(LabPolicyCommands.Conformance.class, List.of(LabPolicyCommands.Netpol.class)),
          Map.entry(ProxyCommand.class, List.of(ProxyCommand.Render.class)),
          Map.entry(
              BenchCommand.class,
              List.of(
                  BenchCommand.Cni.class,
                  BenchCommand.Throughput.class,
                  BenchCommand.ServicesDualStack.class,
                  BenchCommand.Services.class,
                  BenchCommand.Observe.class,
                  BenchCommand.DatapathPackets.class,
                  BenchCommand.Journal.class,
                  BenchCommand.AgentLoad.class,
                  BenchCommand.Rules.class,
                  BenchCommand.Graph.class,
                  BenchCommand.Policy.class,
                  BenchCommand.TraceFidelityBench.class,
                  BenchCommand.BgpConvergence.class,
                  BenchCommand.EndpointPropagation.class)));

  private CommandTree() {}

  /** The whole tree, for tools that inspect every command. */
  public static CommandLine full() {
    return withModes(build(TweedCommand.class, Optional.empty()));
  }

  /** The root with only the branch that {@code args} takes. */
  public static CommandLine forArgs(String... args) {
    return withModes(build(TweedCommand.class, Optional.of(List.of(args))));
  }

  /**
   * Modes are parsed here, once, by their names ({@code --proxy nftables}); an unknown name is
   * refused with the names there are. Registered on the root after the tree is built, so that every
   * command has them.
   */
  private static CommandLine withModes(CommandLine cl) {
    return cl.registerConverter(Datapath.class, Datapath::parse)
        .registerConverter(ProxyMode.class, ProxyMode::parse)
        .registerConverter(Routing.class, Routing::parse)
        .registerConverter(DatastoreKind.class, DatastoreKind::parse)
        .registerConverter(IpFamilies.class, IpFamilies::parse)
        .registerConverter(IpFamily.class, IpFamily::parse);
  }

  private static CommandLine build(Class<?> command, Optional<List<String>> args) {
    CommandLine cl = new CommandLine(command);
    List<Class<?>> children = CHILDREN.getOrDefault(command, List.of());
    if (children.isEmpty()) {
      return cl;
    }
    Optional<Class<?>> taken = args.flatMap(a -> branch(children, a));
    if (taken.isPresent()) {
      List<String> rest = args.get();
      cl.addSubcommand(build(taken.get(), Optional.of(rest.subList(1, rest.size()))));
    } else if (args.isEmpty() || !onlyOptionsOtherThanHelp(args.get())) {
      children.forEach(c -> cl.addSubcommand(build(c, Optional.empty())));
    }
    return cl;
  }

  /** {@code --version} and the like need no subcommand; help lists them all. */
  private static boolean onlyOptionsOtherThanHelp(List<String> args) {
    return !args.isEmpty()
        && args.stream().allMatch(a -> a.startsWith("-") && !a.equals("-h") && !a.equals("--help"));
  }

  /** The child named by the first argument, unless an option comes first or it asks for help. */
  private static Optional<Class<?>> branch(List<Class<?>> children, List<String> args) {
    if (args.isEmpty() || args.getFirst().startsWith("-")) {
      return Optional.empty();
    }
    String first = args.getFirst();
    return children.stream()
        .filter(c -> c != CommandLine.HelpCommand.class)
        .filter(
            c ->
                annotation(c).name().equals(first)
                    || List.of(annotation(c).aliases()).contains(first))
        .findFirst();
  }

  private static Command annotation(Class<?> c) {
    return c.getAnnotation(Command.class);
  }
}
