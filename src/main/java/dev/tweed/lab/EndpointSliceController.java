package dev.tweed.lab;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tweed.datastore.Datastore;
import dev.tweed.datastore.Entry;
import dev.tweed.model.IpFamily;
import dev.tweed.model.Json;
import dev.tweed.model.PodResource;
import dev.tweed.model.ResourceKey;
import dev.tweed.proxy.ServicePortResolver;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The lab's endpointslice controller: for every Service with a selector, the running pods it
 * selects become endpoints, grouped into one slice per distinct set of resolved target ports (a
 * named targetPort may resolve differently per pod) and per address type: a dual-stack Service has
 * IPv4 and IPv6 slices, each listing the pods' addresses of its family, as Kubernetes' controller
 * does. Slices of Services without a selector are the user's and left alone.
 */
public final class EndpointSliceController {
  private static final Logger LOG = LoggerFactory.getLogger(EndpointSliceController.class);
  public static final String MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by";
  public static final String MANAGED_BY = "endpointslice-controller.tweed.dev";
  private final Datastore store;
  private final ControllerLoop loop;

  public EndpointSliceController(Datastore store) {
    this.store = store;
    this.loop =
        new ControllerLoop(
            "endpointslices",
            store,
            List.of(
                ResourceKey.kindPrefix("Pod"),
                ResourceKey.kindPrefix("Service"),
                ResourceKey.kindPrefix("Node")),
            this::pass);
  }

  public void run() {
    loop.run();
  }

  public void stop() {
    loop.stop();
  }

  /** One resolved port of a slice: the Service port's name and protocol, the pod's port. */
  record SlicePort(String name, String protocol, int port) {}

  void pass() {
    List<JsonNode> services = values("Service");
    List<PodResource> pods = values("Pod").stream().map(PodResource::from).toList();
    Set<String> notReady = new HashSet<>();
    for (JsonNode n : values("Node")) {
      if (!NodeLifecycleController.isReady(n)) {
        notReady.add(n.path("metadata").path("name").asText());
      }
    }
    Map<String, JsonNode> desired = desiredSlices(services, pods, notReady);
    for (Entry e : store.list(ResourceKey.kindPrefix("EndpointSlice")).entries()) {
      boolean ours =
          MANAGED_BY.equals(
              e.value().path("metadata").path("labels").path(MANAGED_BY_LABEL).asText());
      if (ours && !desired.containsKey(e.key())) {
        store.delete(e.key());
        LOG.info("event=endpointslice-deleted slice={}", e.key());
      }
    }
    for (var d : desired.entrySet()) {
      Optional<Entry> cur = store.get(d.getKey());
      if (cur.isEmpty() || !cur.get().value().equals(d.getValue())) {
        store.put(d.getKey(), d.getValue());
        LOG.info(
            "event=endpointslice-updated slice={} endpoints={}",
            d.getKey(),
            d.getValue().path("endpoints").size());
      }
    }
  }

  private List<JsonNode> values(String kind) {
    return store.list(ResourceKey.kindPrefix(kind)).entries().stream().map(Entry::value).toList();
  }

  /** Pure: the slices that should exist, by datastore key. */
  static Map<String, JsonNode> desiredSlices(List<JsonNode> services, List<PodResource> pods) {
    return desiredSlices(services, pods, Set.of());
  }

  /**
   * @param notReadyNodes nodes the lifecycle controller judged NotReady: their pods stay listed
   *     with ready=false, as Kubernetes lists pods whose Ready condition fell with their node's
   */
  static Map<String, JsonNode> desiredSlices(
      List<JsonNode> services, List<PodResource> pods, Set<String> notReadyNodes) {
    Map<String, JsonNode> out = new TreeMap<>();
    for (JsonNode svc : services) {
      JsonNode selector = svc.path("spec").path("selector");
      if (!selector.isObject()
          || selector.isEmpty()
          || "ExternalName".equals(svc.path("spec").path("type").asText())) {
        continue;
      }
      String ns = svc.path("metadata").path("namespace").asText("default");
      String name = svc.path("metadata").path("name").asText();
      for (IpFamily family : families(svc)) {
        Map<List<SlicePort>, List<PodResource>> groups =
            new TreeMap<>(Comparator.comparing(Object::toString));
        for (PodResource pod : pods) {
          if (pod.namespace().equals(ns)
              && selects(selector, pod)
              && ready(pod)
              && pod.podIp(family).isPresent()) {
            groups.computeIfAbsent(resolvePorts(svc, pod), k -> new ArrayList<>()).add(pod);
          }
        }
        if (groups.isEmpty()) {
          groups.put(resolvePorts(svc, null), List.of());
        }
        for (var g : groups.entrySet()) {
          // IPv4 slices keep the names they had before there were IPv6 ones.
          String key = g.getKey().toString() + (family == IpFamily.IPV4 ? "" : "/IPv6");
          String sliceName = name + "-" + Integer.toHexString(key.hashCode() & 0xfffffff);
          out.put(
              ResourceKey.namespaced("EndpointSlice", ns, sliceName).toString(),
              slice(ns, name, sliceName, family, g.getKey(), g.getValue(), notReadyNodes));
        }
      }
    }
    return out;
  }

  /** The Service's families: its ipFamilies, else its clusterIP's, else IPv4. */
  static List<IpFamily> families(JsonNode svc) {
    List<IpFamily> out = new ArrayList<>();
    svc.path("spec").path("ipFamilies").forEach(f -> out.add(IpFamily.parse(f.asText())));
    if (out.isEmpty()) {
      String ip = svc.path("spec").path("clusterIP").asText("");
      out.add(ip.isEmpty() || ip.equals("None") ? IpFamily.IPV4 : IpFamily.of(ip));
    }
    return out;
  }

  static boolean ready(PodResource pod) {
    return !pod.deleting() && "Running".equals(pod.phase()) && pod.podIp().isPresent();
  }

  static boolean selects(JsonNode selector, PodResource pod) {
    JsonNode labels = pod.raw().path("metadata").path("labels");
    for (var e : selector.properties()) {
      if (!e.getValue().asText().equals(labels.path(e.getKey()).asText(null))) {
        return false;
      }
    }
    return true;
  }

  /** Resolves each Service port's targetPort for one pod (null pod: numbers only). */
  static List<SlicePort> resolvePorts(JsonNode svc, PodResource pod) {
    List<SlicePort> out = new ArrayList<>();
    for (JsonNode p : svc.path("spec").path("ports")) {
      String proto = p.path("protocol").asText("TCP");
      JsonNode target = p.path("targetPort");
      int port;
      if (target.isMissingNode() || target.isNull()) {
        port = p.path("port").asInt();
      } else if (target.isInt() || target.asText().chars().allMatch(Character::isDigit)) {
        port = target.asInt();
      } else {
        port = 0;
        if (pod != null) {
          for (PodResource.ContainerPort cp : pod.ports()) {
            if (cp.name().equals(target.asText()) && cp.protocol().equals(proto)) {
              port = cp.containerPort();
            }
          }
        }
        if (port == 0) {
          continue; // this pod does not serve this named port
        }
      }
      out.add(new SlicePort(p.path("name").asText(""), proto, port));
    }
    return out;
  }

  private static ObjectNode slice(
      String ns,
      String svc,
      String name,
      IpFamily family,
      List<SlicePort> ports,
      List<PodResource> pods,
      Set<String> notReadyNodes) {
    ObjectNode s = Json.object();
    s.put("apiVersion", "discovery.k8s.io/v1");
    s.put("kind", "EndpointSlice");
    ObjectNode meta = s.putObject("metadata");
    meta.put("name", name).put("namespace", ns);
    meta.putObject("labels")
        .put(ServicePortResolver.SERVICE_NAME_LABEL, svc)
        .put(MANAGED_BY_LABEL, MANAGED_BY);
    s.put("addressType", family.apiName());
    ArrayNode eps = s.putArray("endpoints");
    List<PodResource> sorted = new ArrayList<>(pods);
    sorted.sort(Comparator.comparing(p -> p.podIp(family).orElse("")));
    for (PodResource p : sorted) {
      ObjectNode ep = eps.addObject();
      ep.putArray("addresses").add(p.podIp(family).orElseThrow());
      boolean ready = p.nodeName().map(n -> !notReadyNodes.contains(n)).orElse(true);
      ep.putObject("conditions")
          .put("ready", ready)
          .put("serving", ready)
          .put("terminating", false);
      p.nodeName().ifPresent(n -> ep.put("nodeName", n));
      ep.putObject("targetRef")
          .put("kind", "Pod")
          .put("namespace", p.namespace())
          .put("name", p.name());
    }
    ArrayNode ps = s.putArray("ports");
    for (SlicePort sp : ports) {
      ps.addObject().put("name", sp.name()).put("protocol", sp.protocol()).put("port", sp.port());
    }
    return s;
  }
}
