package dev.tweed.cli;

import dev.tweed.datastore.Datastore;
import dev.tweed.datastore.Entry;
import dev.tweed.lab.Lab;
import dev.tweed.lab.LabSpec;
import dev.tweed.lab.LabStores;
import dev.tweed.lab.ProbeClient;
import dev.tweed.lab.ProbeResult;
import dev.tweed.model.IpFamilies;
import dev.tweed.model.IpFamily;
import dev.tweed.model.PodResource;
import dev.tweed.model.ResourceKey;
import dev.tweed.sys.NetworkNamespace;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** Builds a 3-node lab, runs pods on every node, and proves pod-to-pod traffic across nodes. */
@Command(
    name = "demo",
    description = "Bring up a 3-node lab with pods and prove cross-node connectivity.")
public final class DemoCommand implements Callable<Integer> {
  @Mixin LabOption lab;

  @Option(
      names = {"-f", "--filename"},
      description = "Pods to run (default: examples/demo.yaml).")
  Path file;

  @Option(
      names = "--ip-family",
      defaultValue = "ipv4",
      description = "ipv4 | ipv6 | dual: with dual, every pair is probed in both families.")
  IpFamilies ipFamily;

  @Override
  public Integer call() throws Exception {
    if (file == null) {
      file = Path.of(System.getenv().getOrDefault("TWEED_HOME", "."), "examples", "demo.yaml");
    }
    if (!Files.exists(file)) {
      throw new IllegalArgumentException(file + " not found (run from the repository, or pass -f)");
    }
    Lab l = new Lab(lab.layout(), System.out);
    if (l.exists()) {
      System.out.println("lab '" + lab.layout().name() + "' exists: rebuilding it");
      l.down();
    }
    System.out.println("== building a 3-node lab (namespaces " + lab.layout().prefix() + "*)");
    try {
      l.up(LabSpec.of(3).withIpFamilies(ipFamily));
    } catch (Exception e) {
      l.down();
      throw e;
    }
    System.out.println("== creating pods through the CNI plugin (" + file + ")");
    if (LabCommand.Apply.applyAndWait(l, file) != 0) {
      return 1;
    }
    List<PodResource> pods = new ArrayList<>();
    try (Datastore store = LabStores.open(l.layout())) {
      for (Entry e : store.list(ResourceKey.kindPrefix(PodResource.KIND)).entries()) {
        pods.add(PodResource.from(e.value()));
      }
    }
    List<String[]> rows = new ArrayList<>();
    rows.add(new String[] {"POD", "NODE", "IPS"});
    pods.forEach(
        p ->
            rows.add(
                new String[] {
                  p.qualifiedName(), p.nodeName().orElse(""), String.join(",", p.podIps())
                }));
    Tables.print(rows);
    System.out.println(
        "== probing every pod from every pod (TCP 80 and UDP 80, real packets"
            + (ipFamily.families().size() > 1 ? ", at both addresses)" : ")"));
    int ok = 0;
    int total = 0;
    int crossNode = 0;
    for (PodResource from : pods) {
      String ns = from.annotation(PodResource.NETNS_ANNOTATION).orElseThrow();
      for (PodResource to : pods) {
        if (from == to) {
          continue;
        }
        for (String proto : List.of("tcp", "udp")) {
          for (IpFamily family : ipFamily.families()) {
            ProbeResult r =
                ProbeClient.probe(
                    NetworkNamespace.pathOf(ns),
                    to.podIp(family).orElseThrow(),
                    80,
                    proto,
                    Duration.ofSeconds(2));
            total++;
            boolean right = r.connected() && r.answer().equals(to.qualifiedName());
            if (right) {
              ok++;
              if (!from.nodeName().equals(to.nodeName())) {
                crossNode++;
              }
            } else {
              System.out.printf(
                  "  FAIL %s -> %s %s %s: %s%n",
                  from.qualifiedName(),
                  to.qualifiedName(),
                  proto,
                  family.apiName(),
                  r.connected() ? "answered " + r.answer() : r.reason());
            }
          }
        }
      }
    }
    System.out.printf(
        "%d/%d probes answered by the right pod (%d across nodes through the VXLAN overlay)%n",
        ok, total, crossNode);
    System.out.println(
        "The lab is still up. Try: ./tweed lab get pods | ./tweed lab probe --from default/a1 --to default/c1 --proto udp"
            + " | ./tweed lab node-exec node-1 -- ip route; tear it down: ./tweed lab down");
    return ok == total ? 0 : 1;
  }
}
