package dev.tweed.cli;

import dev.tweed.kernel.NetnsState;
import dev.tweed.kernel.Packet;
import dev.tweed.lab.service.TraceAnswer;
import dev.tweed.lab.service.TraceRequest;
import dev.tweed.model.IpAddress;
import dev.tweed.model.IpFamily;
import dev.tweed.model.Json;
import dev.tweed.trace.DumpDirectory;
import dev.tweed.trace.JourneyReport;
import dev.tweed.trace.Outcome;
import dev.tweed.trace.TraceWorld;
import dev.tweed.trace.Tracer;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code tweed trace}: the journey of one packet, hop by hop and rule by rule. */
@Command(
    name = "trace",
    description =
        "Explain hop by hop and rule by rule where a packet goes and why: in a lab (--from NS/POD)"
            + " or in a capture (--dump DIR --from IP).")
final class TraceCommand implements Callable<Integer> {
  @Mixin LabOption lab;

  @Option(names = "--from", required = true, paramLabel = "NS/POD|IP")
  String from;

  @Option(names = "--to", required = true, paramLabel = "NS/POD|IP")
  String to;

  @Option(names = "--port", defaultValue = "80", description = "Destination port.")
  int port;

  @Option(names = "--proto", defaultValue = "tcp", description = "tcp | udp | icmp")
  String proto;

  @Option(
      names = "--family",
      paramLabel = "4|6",
      description = "Between the pods' IPv4 or IPv6 addresses (default: the primary family).")
  String family;

  @Option(
      names = "--sport",
      defaultValue = "40000",
      description = "Source port (ICMP: the echo identifier).")
  int sport;

  @Option(names = "--pick", description = "Follow only branch N of the random forks (1-based).")
  Integer pick;

  @Option(names = "--dump", description = "Trace in a capture (tweed capture / tweed lab capture).")
  Path dump;

  @Option(names = "--in", description = "With --dump: the packet arrives on this interface.")
  String in;

  @Option(names = "--netns", description = "With --dump of several namespaces: where to start.")
  String netns;

  @Option(
      names = "--reply",
      description = "Also follow the reply of every delivered branch back to the sender.")
  boolean reply;

  @Option(
      names = "--verify",
      description =
          "In a lab: also send the packet for real with nftables tracing on, and say where the"
              + " kernel's path and verdict differ from the model's (exit 1 if they do).")
  boolean verify;

  @Mixin OutputOption output;

  @Override
  public Integer call() throws Exception {
    boolean json = output.json();
    if (dump == null) {
      if (in != null || netns != null) {
        throw new IllegalArgumentException("--in and --netns go with --dump");
      }
      TraceAnswer a =
          lab.service()
              .trace(
                  new TraceRequest(
                      from,
                      to,
                      port,
                      proto,
                      sport,
                      Optional.ofNullable(pick),
                      reply,
                      verify,
                      Optional.ofNullable(family).map(IpFamily::parse)));
      System.out.print(json ? Json.write(a.toJson()) + "\n" : a.toText());
      return a.agrees() ? 0 : 1;
    }
    if (!List.of("tcp", "udp", "icmp").contains(proto)) {
      throw new IllegalArgumentException("--proto must be tcp, udp or icmp");
    }
    if (verify) {
      throw new IllegalArgumentException("--verify sends packets in a lab; it cannot with --dump");
    }
    TraceWorld world = DumpDirectory.load(dump);
    String src = ip(from, "--from");
    String dst = ip(to, "--to");
    if (IpFamily.of(src) != IpFamily.of(dst)) {
      throw new IllegalArgumentException(
          "--from " + src + " and --to " + dst + " differ in family");
    }
    Packet packet =
        Packet.of(
            src,
            dst,
            Packet.protocol(proto, IpFamily.of(src)),
            sport,
            proto.equals("icmp") ? 0 : port);
    String start = startNetns(world, src);
    String fromLabel = in != null ? in + " of " + world.label(start) : src;
    Tracer tracer = new Tracer(world);
    List<Outcome> outcomes =
        in != null ? tracer.arriving(start, in, packet) : tracer.fromLocalProcess(start, packet);
    JourneyReport report = new JourneyReport(packet, fromLabel, outcomes, world::label);
    if (pick != null) {
      report = report.pick(pick);
    }
    if (reply) {
      report = report.withReplies(tracer::reply);
    }
    System.out.print(json ? Json.write(report.toJson()) + "\n" : report.toText());
    return 0;
  }

  private static String ip(String s, String option) {
    try {
      return IpAddress.parse(s).toString();
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(option + " must be an IP address here, got '" + s + "'");
    }
  }

  private String startNetns(TraceWorld world, String src) {
    if (netns != null) {
      if (world.netns(netns).isEmpty()) {
        throw new IllegalArgumentException("--netns " + netns + " is not in the capture");
      }
      return netns;
    }
    if (world.namespaces().size() == 1) {
      return world.namespaces().keySet().iterator().next();
    }
    Optional<String> owner =
        world.namespaces().values().stream()
            .filter(s -> s.owner(src).isPresent())
            .map(NetnsState::name)
            .findFirst();
    return owner.orElseThrow(
        () ->
            new IllegalArgumentException(
                "no namespace of the capture holds " + src + ": say where with --netns"));
  }
}
