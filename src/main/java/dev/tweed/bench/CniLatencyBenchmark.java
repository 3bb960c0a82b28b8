package dev.tweed.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tweed.lab.CniInstaller;
import dev.tweed.lab.Lab;
import dev.tweed.lab.LabLayout;
import dev.tweed.lab.LabNetconf;
import dev.tweed.lab.Namespaces;
import dev.tweed.model.IpFamilies;
import dev.tweed.model.Json;
import dev.tweed.sys.Command;
import dev.tweed.sys.NetworkNamespace;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * CNI ADD and DEL latency as a runtime sees it (exec to exit), for Tweed's native shim, its Java
 * shim, and Debian's reference {@code bridge} + {@code host-local} plugins, in one lab node. Each
 * call is exec'd from a thread inside the node's namespace, as a runtime on that host would.
 */
public final class CniLatencyBenchmark {
  private static final Path REFERENCE_DIR = Path.of("/usr/lib/cni");
  private final Lab lab;
  private final PrintStream out;

  public CniLatencyBenchmark(Lab lab, PrintStream out) {
    this.lab = lab;
    this.out = out;
  }

  /** One plugin under test: where it lives and the configuration it gets. */
  record Subject(String name, Path binDir, String executable, JsonNode netconf) {}

  /** Latencies of one subject. */
  public record Result(String name, Stats add, Stats del) {}

  public List<Result> run(int pods, int warmup) throws Exception {
    return run(pods, warmup, false);
  }

  /**
   * @param dualStack also the dual-stack configuration (an address from each family's pool) in the
   *     same lab, against the IPv4 one, and the reference plugins with an IPv4 and an IPv6 range
   */
  public List<Result> run(int pods, int warmup, boolean dualStack) throws Exception {
    if (!Files.isExecutable(REFERENCE_DIR.resolve("bridge"))) {
      throw new IllegalStateException(
          "the reference plugins are missing: install Debian's containernetworking-plugins");
    }
    LabLayout layout = lab.layout();
    Path nativeDir = layout.dir().resolve("bench-native");
    Path javaDir = layout.dir().resolve("bench-java");
    CniInstaller.install(nativeDir, false);
    CniInstaller.install(javaDir, true);
    ObjectNode tweedConf = LabNetconf.forNode(layout, "node-1");
    ObjectNode refConf = Json.object();
    refConf
        .put("cniVersion", "1.0.0")
        .put("name", "reference")
        .put("type", "bridge")
        .put("bridge", "cni0")
        .put("isGateway", true)
        .put("ipMasq", false);
    ObjectNode ipam = refConf.putObject("ipam");
    ipam.put("type", "host-local").put("dataDir", layout.dir().resolve("host-local").toString());
    ipam.putArray("ranges").addArray().addObject().put("subnet", "10.88.0.0/16");
    List<Subject> subjects =
        new ArrayList<>(
            List.of(
                new Subject("tweed (native shim)", nativeDir, "tweed-cni", tweedConf),
                new Subject("reference bridge+host-local", REFERENCE_DIR, "bridge", refConf),
                new Subject("tweed (java shim)", javaDir, "tweed-cni", tweedConf)));
    if (dualStack) {
      ObjectNode dualConf = LabNetconf.forNode(layout, "node-1", IpFamilies.DUAL);
      ObjectNode refDual = refConf.deepCopy();
      refDual.put("bridge", "cni1");
      ObjectNode dualIpam = refDual.withObject("ipam");
      dualIpam.put("dataDir", layout.dir().resolve("host-local-dual").toString());
      ArrayNode ranges = dualIpam.putArray("ranges");
      ranges.addArray().addObject().put("subnet", "10.89.0.0/16");
      ranges.addArray().addObject().put("subnet", "fd00:89::/64");
      // IPv4 again right before dual-stack: both with the agent as warm, in turn.
      subjects.add(
          new Subject("tweed IPv4 again (native shim)", nativeDir, "tweed-cni", tweedConf));
      subjects.add(new Subject("tweed dual-stack (native shim)", nativeDir, "tweed-cni", dualConf));
      subjects.add(new Subject("reference, two ranges", REFERENCE_DIR, "bridge", refDual));
    }
    List<Result> results = new ArrayList<>();
    for (Subject s : subjects) {
      results.add(measure(s, pods, warmup));
      out.printf(
          "%-30s ADD %s%n%-30s DEL %s%n",
          s.name(), results.getLast().add(), "", results.getLast().del());
      if (s == subjects.getFirst()) {
        agentShare(pods).ifPresent(out::println);
      }
    }
    return results;
  }

  private static final Pattern ADD_LOG =
      Pattern.compile(
          "event=cni-add container=bench-benchnative-\\d+ .* ipam_ms=([0-9.]+) plumbing_ms=([0-9.]+)");

  /**
   * Where a native-shim ADD spends its time inside the agent, from the agent's own log lines of the
   * measured calls: IPAM (datastore reads and compare-and-swap writes) and plumbing (netlink, the
   * pod namespace's thread, sysctls); the rest of the ADD is the shim's exec and the socket.
   */
  private Optional<String> agentShare(int pods) throws IOException {
    Path log = lab.layout().logDir().resolve("node-1-agent.log");
    if (!Files.exists(log)) {
      return Optional.empty();
    }
    List<Double> ipam = new ArrayList<>();
    List<Double> plumbing = new ArrayList<>();
    for (String line : Files.readAllLines(log)) {
      var m = ADD_LOG.matcher(line);
      if (m.find()) {
        ipam.add(Double.parseDouble(m.group(1)));
        plumbing.add(Double.parseDouble(m.group(2)));
      }
    }
    if (ipam.size() < pods) {
      return Optional.empty();
    }
    Stats i = Stats.of(ipam.subList(ipam.size() - pods, ipam.size()));
    Stats p = Stats.of(plumbing.subList(plumbing.size() - pods, plumbing.size()));
    return Optional.of(
        String.format(
            "%-30s in the agent: IPAM median %.1f ms (p99 %.1f), plumbing median %.1f ms (p99 %.1f)",
            "", i.median(), i.p99(), p.median(), p.p99()));
  }

  private Result measure(Subject s, int pods, int warmup) throws Exception {
    LabLayout layout = lab.layout();
    String tag =
        s.binDir().getFileName().toString().replaceAll("[^a-z0-9]", "")
            + (s.netconf().path("ipam").has("pools")
                    || s.netconf().path("ipam").path("ranges").size() > 1
                ? "d"
                : s.name().contains("again") ? "a" : "");
    List<String> sandboxes = new ArrayList<>();
    for (int i = 0; i < pods + warmup; i++) {
      String ns = layout.prefix() + "b" + tag + "-" + i;
      Namespaces.add(ns);
      sandboxes.add(ns);
    }
    List<Double> add = new ArrayList<>();
    List<Double> del = new ArrayList<>();
    try {
      NetworkNamespace.call(
          NetworkNamespace.pathOf(layout.nodeNs("node-1")),
          () -> {
            for (int i = 0; i < sandboxes.size(); i++) {
              double ms = call(s, "ADD", "bench-" + tag + "-" + i, sandboxes.get(i));
              if (i >= warmup) {
                add.add(ms);
              }
            }
            for (int i = 0; i < sandboxes.size(); i++) {
              double ms = call(s, "DEL", "bench-" + tag + "-" + i, sandboxes.get(i));
              if (i >= warmup) {
                del.add(ms);
              }
            }
            return null;
          });
    } finally {
      sandboxes.forEach(Namespaces::delete);
    }
    return new Result(s.name(), Stats.of(add), Stats.of(del));
  }

  private static double call(Subject s, String command, String containerId, String ns) {
    Map<String, String> env = new LinkedHashMap<>();
    env.put("CNI_COMMAND", command);
    env.put("CNI_CONTAINERID", containerId);
    env.put("CNI_NETNS", NetworkNamespace.pathOf(ns).toString());
    env.put("CNI_IFNAME", "eth0");
    env.put("CNI_PATH", s.binDir().toString());
    long start = System.nanoTime();
    Command.Result r =
        Command.exec(
            List.of(s.binDir().resolve(s.executable()).toString()),
            Json.write(s.netconf()).getBytes(StandardCharsets.UTF_8),
            env,
            60);
    double ms = (System.nanoTime() - start) / 1e6;
    if (!r.ok()) {
      throw new IllegalStateException(
          s.name() + " " + command + " failed: " + r.stdout() + r.stderr());
    }
    return ms;
  }
}
