package dev.tweed.lab.chaos;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.datastore.Datastore;
import dev.tweed.lab.LabBpfMaps;
import dev.tweed.lab.LabLayout;
import dev.tweed.lab.LabState;
import dev.tweed.lab.ReachabilityProbe;
import dev.tweed.model.IpamBlock;
import dev.tweed.model.Json;
import dev.tweed.model.PodResource;
import dev.tweed.model.ResourceKey;
import dev.tweed.model.WorkloadEndpoint;
import dev.tweed.sys.Command;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * What must hold after a soak, read from the store and the nodes' kernels: no address given twice,
 * no allocation without its pod, every pod reaching every pod, and nothing left of a deleted pod
 * (its veth, its route, a rule or a map entry naming its address, its workload endpoint).
 */
final class Invariants {
  /** One invariant: its name and what breaks it (empty when it holds). */
  record Check(String name, List<String> problems) {
    boolean holds() {
      return problems.isEmpty();
    }
  }

  private Invariants() {}

  static List<Check> check(
      LabLayout layout, LabState state, Datastore store, List<PodChurn.ChurnedPod> deleted)
      throws Exception {
    List<PodResource> pods =
        store.list(ResourceKey.kindPrefix(PodResource.KIND)).entries().stream()
            .map(e -> PodResource.from(e.value()))
            .filter(p -> !p.deleting())
            .toList();
    List<IpamBlock> blocks =
        store.list(ResourceKey.kindPrefix(IpamBlock.KIND)).entries().stream()
            .map(e -> IpamBlock.from(e.value()))
            .toList();
    List<WorkloadEndpoint> endpoints =
        store.list(ResourceKey.kindPrefix(WorkloadEndpoint.KIND)).entries().stream()
            .map(e -> WorkloadEndpoint.from(e.value()))
            .toList();
    Set<String> liveIps = new HashSet<>();
    pods.forEach(p -> p.podIp().ifPresent(liveIps::add));
    // A deleted pod's address may since have gone to a live pod: only the others must be gone.
    Set<String> goneIps = new TreeSet<>();
    for (PodChurn.ChurnedPod d : deleted) {
      d.ip().filter(ip -> !liveIps.contains(ip)).ifPresent(goneIps::add);
    }
    List<Check> out = new ArrayList<>();
    out.add(addressesUnique(pods, blocks));
    out.add(allocationsHavePods(pods, blocks));
    out.add(everyPodReachesEveryPod(layout, pods));
    out.add(nothingLeftOfDeletedPods(layout, state, store, pods, endpoints, deleted, goneIps));
    return out;
  }

  private static Check addressesUnique(List<PodResource> pods, List<IpamBlock> blocks) {
    List<String> problems = new ArrayList<>();
    Map<String, String> byIp = new HashMap<>();
    for (PodResource p : pods) {
      p.podIp()
          .ifPresent(
              ip -> {
                String other = byIp.putIfAbsent(ip, p.qualifiedName());
                if (other != null) {
                  problems.add(ip + " is both " + other + "'s and " + p.qualifiedName() + "'s");
                }
              });
    }
    Map<String, String> allocated = new HashMap<>();
    for (IpamBlock b : blocks) {
      b.allocations()
          .forEach(
              (index, a) -> {
                String ip = b.cidr().address(index).toString();
                String other = allocated.putIfAbsent(ip, a.pod());
                if (other != null) {
                  problems.add(ip + " is allocated twice: to " + other + " and to " + a.pod());
                }
              });
    }
    for (PodResource p : pods) {
      p.podIp()
          .filter(ip -> !p.qualifiedName().equals(allocated.get(ip)))
          .ifPresent(
              ip ->
                  problems.add(
                      p.qualifiedName()
                          + " has "
                          + ip
                          + ", which IPAM gives to "
                          + allocated.get(ip)));
    }
    return new Check("no address allocated twice", problems);
  }

  private static Check allocationsHavePods(List<PodResource> pods, List<IpamBlock> blocks) {
    Set<String> live = new HashSet<>();
    pods.forEach(p -> live.add(p.qualifiedName()));
    List<String> problems = new ArrayList<>();
    for (IpamBlock b : blocks) {
      b.allocations()
          .forEach(
              (index, a) -> {
                if (!live.contains(a.pod())) {
                  problems.add(
                      b.cidr().address(index).toString()
                          + " in block "
                          + b.cidr()
                          + " is allocated to "
                          + (a.pod().isEmpty() ? "handle " + a.handle() : a.pod())
                          + ", which is not a live pod");
                }
              });
    }
    return new Check("every allocation belongs to a live pod", problems);
  }

  private static Check everyPodReachesEveryPod(LabLayout layout, List<PodResource> pods)
      throws Exception {
    List<ReachabilityProbe.Target> targets = new ArrayList<>();
    Map<String, Integer> ports = new HashMap<>();
    for (PodResource p : pods) {
      if (p.phase().equals("Running") && p.podIp().isPresent()) {
        targets.add(
            new ReachabilityProbe.Target(p.qualifiedName(), layout.netnsOf(p), p.podIp().get()));
        ports.put(p.qualifiedName(), ChaosRun.tcpPort(p));
      }
    }
    List<String> problems = new ArrayList<>();
    // One port for the whole matrix: pods that declare none answer on 80; those that declare
    // ports are probed on their own through a matrix of their own port.
    for (int port : new TreeSet<>(ports.values())) {
      List<ReachabilityProbe.Target> to =
          targets.stream().filter(t -> ports.get(t.name()) == port).toList();
      List<List<Boolean>> m =
          ReachabilityProbe.grid(targets, to, port, "tcp", Duration.ofSeconds(3));
      for (int i = 0; i < targets.size(); i++) {
        for (int j = 0; j < to.size(); j++) {
          if (!m.get(i).get(j)) {
            problems.add(targets.get(i).name() + " -> " + to.get(j).name() + ":" + port);
          }
        }
      }
    }
    return new Check("every pod reaches every pod", problems);
  }

  private static Check nothingLeftOfDeletedPods(
      LabLayout layout,
      LabState state,
      Datastore store,
      List<PodResource> pods,
      List<WorkloadEndpoint> endpoints,
      List<PodChurn.ChurnedPod> deleted,
      Set<String> goneIps) {
    List<String> problems = new ArrayList<>();
    Set<String> deletedNames = new HashSet<>();
    deleted.forEach(d -> deletedNames.add(PodChurn.NAMESPACE + "/" + d.name()));
    Set<String> livePods = new HashSet<>();
    pods.forEach(p -> livePods.add(p.qualifiedName()));
    for (WorkloadEndpoint w : endpoints) {
      if (deletedNames.contains(w.pod()) && !livePods.contains(w.pod())) {
        problems.add("workload endpoint " + w.key() + " of deleted pod " + w.pod());
      }
    }
    for (int i = 1; i <= state.spec().nodes(); i++) {
      String node = LabLayout.nodeName(i);
      String ns = layout.nodeNs(node);
      Set<String> wanted = new TreeSet<>();
      endpoints.stream()
          .filter(w -> w.node().equals(node))
          .forEach(w -> wanted.add(w.hostInterface()));
      for (JsonNode l : Json.parse(nodeRun(ns, "ip", "-j", "link", "show", "type", "veth"))) {
        String name = l.path("ifname").asText();
        // eth0 is the node's own link to the underlay, a veth too in the lab.
        if (!name.equals("eth0") && !wanted.contains(name)) {
          problems.add(node + ": veth " + name + " belongs to no workload endpoint");
        }
      }
      String routes = nodeRun(ns, "ip", "-j", "route", "show", "table", "all");
      String rules = nodeRun(ns, "iptables-save") + "\n" + nodeRun(ns, "nft", "list", "ruleset");
      for (String ip : goneIps) {
        Pattern exact = Pattern.compile("(?<![0-9.])" + Pattern.quote(ip) + "(?![0-9])");
        if (exact.matcher(routes).find()) {
          problems.add(node + ": a route names " + ip + ", a deleted pod's address");
        }
        if (exact.matcher(rules).find()) {
          problems.add(node + ": a rule names " + ip + ", a deleted pod's address");
        }
      }
      if (state.spec().ebpf()) {
        LabBpfMaps maps = new LabBpfMaps(layout, node, store);
        maps.endpoints().stream()
            .filter(e -> goneIps.contains(e.ip()))
            .forEach(e -> problems.add(node + ": endpoint map entry for " + e.ip()));
        maps.ipcache().stream()
            .filter(e -> goneIps.contains(e.prefix().replace("/32", "")))
            .forEach(e -> problems.add(node + ": IP cache entry " + e.prefix()));
        maps.backends().stream()
            .filter(b -> goneIps.contains(b.address().replaceAll(":[0-9]+$", "")))
            .forEach(b -> problems.add(node + ": backend map entry " + b.address()));
      }
    }
    return new Check("nothing left of a deleted pod", problems);
  }

  private static String nodeRun(String ns, String... argv) {
    List<String> all = new ArrayList<>(List.of("ip", "netns", "exec", ns));
    all.addAll(List.of(argv));
    return Command.run(all);
  }
}
