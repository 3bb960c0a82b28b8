package dev.tweed.lab;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tweed.datastore.ConflictException;
import dev.tweed.datastore.Datastore;
import dev.tweed.datastore.Entry;
import dev.tweed.model.IpFamilies;
import dev.tweed.model.NodeResource;
import dev.tweed.model.PodResource;
import dev.tweed.model.ResourceKey;
import dev.tweed.sys.NetworkNamespace;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.BiConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The lab's scheduler and kubelet in one: places unscheduled pods on the node with the fewest pods,
 * creates each pod's sandbox (a network namespace) and calls the CNI plugin for it, starts its
 * probe server, reports phase and podIP; and tears all of it down when a pod is deleted.
 */
public final class PodController implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(PodController.class);
  private final LabLayout layout;
  private final Datastore store;
  private final ExecutorService workers = Executors.newVirtualThreadPerTaskExecutor();
  private final Set<String> inFlight = ConcurrentHashMap.newKeySet();
  private final Map<String, ProbeServer> probes = new ConcurrentHashMap<>();
  private final Map<String, Long> retryAfter = new ConcurrentHashMap<>();
  private final ControllerLoop loop;
  private final IpFamilies families;

  public PodController(LabLayout layout, Datastore store, IpFamilies families) {
    this.layout = layout;
    this.store = store;
    this.families = families;
    this.loop =
        new ControllerLoop(
            "pods", store, List.of(ResourceKey.kindPrefix(PodResource.KIND)), this::pass);
  }

  public void run() {
    loop.run();
  }

  private void poke() {
    loop.poke();
  }

  private void pass() {
    List<Entry> pods = store.list(ResourceKey.kindPrefix(PodResource.KIND)).entries();
    List<String> nodes =
        store.list(ResourceKey.kindPrefix(NodeResource.KIND)).entries().stream()
            .map(e -> NodeResource.from(e.value()).name())
            .sorted(Comparator.comparingInt(PodController::nodeNumber))
            .toList();
    Map<String, Integer> load = new TreeMap<>();
    nodes.forEach(n -> load.put(n, 0));
    for (Entry e : pods) {
      PodResource.from(e.value()).nodeName().ifPresent(n -> load.merge(n, 1, Integer::sum));
    }
    for (Entry e : pods) {
      PodResource pod = PodResource.from(e.value());
      String key = e.key();
      if (pod.nodeName().isEmpty() && !pod.deleting()) {
        schedule(e, pod, load, nodes);
        continue;
      }
      boolean needsWork =
          pod.deleting()
              || (pod.podIp().isEmpty()
                  && System.currentTimeMillis() >= retryAfter.getOrDefault(key, 0L))
              || (pod.podIp().isPresent() && !probes.containsKey(key));
      if (needsWork && inFlight.add(key)) {
        workers.submit(
            () -> {
              try {
                // Act on the pod as it is now: the listing may predate a finished piece of work.
                var fresh = store.get(key).map(x -> PodResource.from(x.value()));
                if (fresh.isEmpty()) {
                  return;
                }
                if (fresh.get().deleting()) {
                  teardown(key, fresh.get());
                } else if (fresh.get().podIp().isEmpty() || !probes.containsKey(key)) {
                  bringUp(key, fresh.get());
                }
              } catch (RuntimeException ex) {
                LOG.warn(
                    "event=pod-work-failed pod={} error=\"{}\"",
                    pod.qualifiedName(),
                    ex.toString());
              } finally {
                inFlight.remove(key);
                poke();
              }
            });
      }
    }
  }

  private static int nodeNumber(String name) {
    try {
      return Integer.parseInt(name.substring(name.lastIndexOf('-') + 1));
    } catch (NumberFormatException e) {
      return Integer.MAX_VALUE;
    }
  }

  private void schedule(Entry e, PodResource pod, Map<String, Integer> load, List<String> nodes) {
    if (nodes.isEmpty()) {
      return;
    }
    String best = nodes.stream().min(Comparator.comparingInt(load::get)).orElseThrow();
    ObjectNode next = e.value().deepCopy();
    next.withObject("spec").put("nodeName", best);
    try {
      store.put(e.key(), next, e.modRevision());
      load.merge(best, 1, Integer::sum);
      LOG.info("event=pod-scheduled pod={} node={}", pod.qualifiedName(), best);
    } catch (ConflictException lost) {
      poke();
    }
  }

  private void bringUp(String key, PodResource pod) {
    String node = pod.nodeName().orElseThrow();
    String netnsName = layout.podNs(pod.namespace(), pod.name());
    String containerId = pod.uid().replace("-", "");
    if (pod.podIp().isEmpty()) {
      if (!Namespaces.list().contains(netnsName)) {
        Namespaces.add(netnsName);
      }
      String netns = NetworkNamespace.pathOf(netnsName).toString();
      CniExec.Outcome out =
          CniExec.call(
              layout.nodeNs(node),
              layout.cniBinDir().toString(),
              "ADD",
              containerId,
              netns,
              "eth0",
              "K8S_POD_NAMESPACE="
                  + pod.namespace()
                  + ";K8S_POD_NAME="
                  + pod.name()
                  + ";K8S_POD_INFRA_CONTAINER_ID="
                  + containerId,
              LabNetconf.forNode(layout, node, families));
      if (!out.ok()) {
        retryAfter.put(key, System.currentTimeMillis() + 2000);
        LOG.warn(
            "event=pod-network-failed pod={} node={} error=\"{}\"",
            pod.qualifiedName(),
            node,
            out.describe());
        updateStatus(
            key,
            (s, m) ->
                s.put("phase", "Pending")
                    .put("message", "network setup failed: " + out.describe()));
        return;
      }
      List<String> ips = new ArrayList<>();
      for (JsonNode a : out.output().path("ips")) {
        String cidr = a.path("address").asText();
        ips.add(cidr.substring(0, cidr.indexOf('/')));
      }
      String ip = ips.getFirst();
      startProbe(key, pod, netnsName);
      updateStatus(
          key,
          (s, meta) -> {
            s.put("phase", "Running").put("podIP", ip).put("hostIP", hostIp(node));
            // The API's podIPs: one per family, the primary first, as the CNI result lists them.
            ArrayNode podIps = s.putArray("podIPs");
            ips.forEach(a -> podIps.addObject().put("ip", a));
            s.remove("message");
            meta.withObject("annotations")
                .put(PodResource.NETNS_ANNOTATION, netnsName)
                .put(PodResource.CONTAINER_ID_ANNOTATION, containerId);
          });
      LOG.info(
          "event=pod-running pod={} node={} ips={}",
          pod.qualifiedName(),
          node,
          String.join(",", ips));
    } else {
      startProbe(key, pod, netnsName);
    }
  }

  private String hostIp(String node) {
    return store
        .get(ResourceKey.cluster(NodeResource.KIND, node).toString())
        .map(e -> NodeResource.from(e.value()).internalIp())
        .orElse("");
  }

  private void startProbe(String key, PodResource pod, String netnsName) {
    List<ProbeServer.Port> ports =
        pod.ports().isEmpty()
            ? List.of(
                new ProbeServer.Port(80, "TCP"),
                new ProbeServer.Port(80, "UDP"),
                new ProbeServer.Port(81, "TCP"),
                new ProbeServer.Port(81, "UDP"))
            : pod.ports().stream()
                .map(p -> new ProbeServer.Port(p.containerPort(), p.protocol()))
                .toList();
    try {
      ProbeServer old =
          probes.put(
              key, new ProbeServer(NetworkNamespace.pathOf(netnsName), pod.qualifiedName(), ports));
      if (old != null) {
        old.close();
      }
    } catch (Exception e) {
      LOG.warn("event=probe-server-failed pod={} error=\"{}\"", pod.qualifiedName(), e.toString());
    }
  }

  private void teardown(String key, PodResource pod) {
    ProbeServer p = probes.remove(key);
    if (p != null) {
      p.close();
    }
    String netnsName = layout.netnsOf(pod);
    if (pod.nodeName().isPresent()) {
      String node = pod.nodeName().get();
      CniExec.Outcome out =
          CniExec.call(
              layout.nodeNs(node),
              layout.cniBinDir().toString(),
              "DEL",
              pod.uid().replace("-", ""),
              NetworkNamespace.pathOf(netnsName).toString(),
              "eth0",
              "K8S_POD_NAMESPACE=" + pod.namespace() + ";K8S_POD_NAME=" + pod.name(),
              LabNetconf.forNode(layout, node, families));
      if (!out.ok()) {
        LOG.warn(
            "event=pod-network-teardown-failed pod={} error=\"{}\"",
            pod.qualifiedName(),
            out.describe());
        return;
      }
    }
    Namespaces.delete(netnsName);
    store.delete(key);
    retryAfter.remove(key);
    LOG.info("event=pod-deleted pod={}", pod.qualifiedName());
  }

  /** Read-modify-write of a pod's status and metadata, with CAS retries. */
  private void updateStatus(String key, BiConsumer<ObjectNode, ObjectNode> edit) {
    for (int i = 0; i < 50; i++) {
      var cur = store.get(key);
      if (cur.isEmpty()) {
        return;
      }
      ObjectNode obj = cur.get().value().deepCopy();
      edit.accept(obj.withObject("status"), obj.withObject("metadata"));
      try {
        store.put(key, obj, cur.get().modRevision());
        return;
      } catch (ConflictException lost) {
        // Re-read and apply the edit again.
      }
    }
  }

  @Override
  public void close() {
    loop.stop();
    probes.values().forEach(ProbeServer::close);
    workers.shutdownNow();
  }
}
