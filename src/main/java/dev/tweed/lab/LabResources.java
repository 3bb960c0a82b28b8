package dev.tweed.lab;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tweed.datastore.ConflictException;
import dev.tweed.datastore.Datastore;
import dev.tweed.datastore.Entry;
import dev.tweed.model.BgpConfiguration;
import dev.tweed.model.FamilyCidrs;
import dev.tweed.model.IpAddress;
import dev.tweed.model.IpFamilies;
import dev.tweed.model.IpFamily;
import dev.tweed.model.Json;
import dev.tweed.model.NodeResource;
import dev.tweed.model.PodResource;
import dev.tweed.model.ResourceKey;
import dev.tweed.policy.InvalidPolicyException;
import dev.tweed.policy.NetworkPolicyParser;
import dev.tweed.proxy.ServiceValidator;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.regex.Pattern;

/**
 * Kubernetes-format YAML in and out of the lab's datastore: parsing multi-document files,
 * validating every object before writing any, and the apply/delete semantics of kubectl.
 */
public final class LabResources {
  static final Set<String> KINDS =
      Set.of(
          "Namespace", "Pod", "Service", "EndpointSlice", "NetworkPolicy", BgpConfiguration.KIND);

  /** Kinds without a namespace. */
  static boolean clusterScoped(String kind) {
    return kind.equals("Namespace") || kind.equals(BgpConfiguration.KIND);
  }

  private static final Pattern DNS_LABEL = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
  private static final Pattern DNS_SUBDOMAIN = Pattern.compile("[a-z0-9]([-a-z0-9.]*[a-z0-9])?");
  private final Datastore store;

  /** The cluster's Service ranges, one per family: what Services are checked and given. */
  private final FamilyCidrs serviceCidrs;

  /** The resources of an IPv4 cluster. */
  public LabResources(Datastore store) {
    this(store, FamilyCidrs.of(ServiceAllocator.SERVICE_CIDR));
  }

  public LabResources(Datastore store, FamilyCidrs serviceCidrs) {
    this.store = store;
    this.serviceCidrs = serviceCidrs;
  }

  /** The resources of the lab at {@code layout}, in its IP families. */
  public static LabResources of(Datastore store, LabLayout layout) {
    IpFamilies families =
        LabState.read(layout).map(s -> s.spec().ipFamilies()).orElse(IpFamilies.IPV4);
    return new LabResources(store, LabLayout.serviceCidrs(families));
  }

  public static ObjectNode namespace(String name) {
    ObjectNode n = Json.object();
    n.put("apiVersion", "v1");
    n.put("kind", "Namespace");
    n.putObject("metadata").put("name", name).put("uid", UUID.randomUUID().toString());
    n.putObject("status").put("phase", "Active");
    return n;
  }

  public static List<ObjectNode> read(Path file) throws IOException, InvalidResourceException {
    return read(Json.yaml().readerFor(JsonNode.class).readValues(file.toFile()), file.toString());
  }

  /** Objects from YAML text; {@code source} names it in errors. */
  public static List<ObjectNode> read(String yaml, String source)
      throws IOException, InvalidResourceException {
    return read(Json.yaml().readerFor(JsonNode.class).readValues(yaml), source);
  }

  private static List<ObjectNode> read(MappingIterator<JsonNode> docs, String file)
      throws IOException, InvalidResourceException {
    List<ObjectNode> out = new ArrayList<>();
    try (MappingIterator<JsonNode> it = docs) {
      int index = 0;
      while (it.hasNextValue()) {
        JsonNode doc = it.nextValue();
        index++;
        if (doc == null
            || doc.isNull()
            || doc.isMissingNode()
            || (doc.isObject() && doc.isEmpty())) {
          continue;
        }
        if (!doc.isObject()) {
          throw new InvalidResourceException(
              file + " document " + index, "(root)", "is not a mapping");
        }
        if ("List".equals(doc.path("kind").asText())) {
          for (JsonNode item : doc.path("items")) {
            out.add((ObjectNode) item);
          }
        } else {
          out.add((ObjectNode) doc);
        }
      }
    } catch (JacksonException e) {
      throw new InvalidResourceException(file.toString(), "(yaml)", e.getOriginalMessage());
    }
    return out;
  }

  /**
   * {@code Kind namespace/name} (namespaced kinds default to "default", as kubectl applies them).
   */
  static String describe(JsonNode o) {
    boolean clusterScoped = clusterScoped(o.path("kind").asText());
    String ns = clusterScoped ? "" : o.path("metadata").path("namespace").asText("default");
    return o.path("kind").asText("?")
        + " "
        + (ns.isEmpty() ? "" : ns + "/")
        + o.path("metadata").path("name").asText("?");
  }

  /** Validates all, then writes all; returns a kubectl-style line per object. */
  public List<String> apply(List<ObjectNode> objects) throws InvalidResourceException {
    Set<String> namespaces = new HashSet<>();
    for (Entry e : store.list(ResourceKey.kindPrefix("Namespace")).entries()) {
      namespaces.add(ResourceKey.parse(e.key()).name());
    }
    objects.stream()
        .filter(o -> "Namespace".equals(o.path("kind").asText()))
        .forEach(o -> namespaces.add(o.path("metadata").path("name").asText()));
    Set<String> nodes = new HashSet<>();
    for (Entry e : store.list(ResourceKey.kindPrefix(NodeResource.KIND)).entries()) {
      nodes.add(ResourceKey.parse(e.key()).name());
    }
    Set<String> seen = new HashSet<>();
    for (ObjectNode o : objects) {
      validate(o, namespaces, nodes, serviceCidrs);
      if (!seen.add(keyOf(o).toString())) {
        throw new InvalidResourceException(
            describe(o), "metadata.name", "appears twice in the input");
      }
    }
    List<ObjectNode> prepared = allocateServices(objects);
    List<String> results = new ArrayList<>();
    for (ObjectNode o : prepared) {
      results.add(write(o));
    }
    return results;
  }

  /**
   * Gives every Service in the input its clusterIP and node ports before anything is written, so
   * that a conflict rejects the whole input. Updates keep what the Service already has.
   */
  private List<ObjectNode> allocateServices(List<ObjectNode> objects)
      throws InvalidResourceException {
    Set<String> updated = new HashSet<>();
    for (ObjectNode o : objects) {
      if ("Service".equals(o.path("kind").asText())) {
        updated.add(keyOf(o).toString());
      }
    }
    List<Entry> others =
        store.list(ResourceKey.kindPrefix("Service")).entries().stream()
            .filter(e -> !updated.contains(e.key()))
            .toList();
    ServiceAllocator allocator = new ServiceAllocator(others, Optional.empty(), serviceCidrs);
    List<ObjectNode> out = new ArrayList<>();
    for (ObjectNode o : objects) {
      ObjectNode p = o.deepCopy();
      if ("Service".equals(p.path("kind").asText())) {
        Optional<Entry> existing = store.get(keyOf(p).toString());
        if (existing.isPresent()) {
          keepAllocations(p, existing.get().value());
        }
        allocator.allocate(p, describe(p));
      }
      out.add(p);
    }
    return out;
  }

  /** clusterIP is immutable; node ports not given again stay as they were. */
  private static void keepAllocations(ObjectNode svc, JsonNode cur)
      throws InvalidResourceException {
    ObjectNode spec = svc.withObject("spec");
    JsonNode curSpec = cur.path("spec");
    String want = spec.path("clusterIP").asText("");
    String have = curSpec.path("clusterIP").asText("");
    if (!want.isEmpty() && !want.equals(have)) {
      throw new InvalidResourceException(
          describe(svc), "spec.clusterIP", "field is immutable (is " + have + ")");
    }
    spec.put("clusterIP", have);
    // The family fields settled at creation stay unless given again (the API server lets a
    // Service move between single- and dual-stack; the lab keeps them as they were).
    for (String f : List.of("clusterIPs", "ipFamilies", "ipFamilyPolicy")) {
      if (!spec.has(f) && curSpec.has(f)) {
        spec.set(f, curSpec.get(f).deepCopy());
      }
    }
    JsonNode curPorts = curSpec.path("ports");
    JsonNode ports = spec.path("ports");
    for (int i = 0; i < ports.size() && i < curPorts.size(); i++) {
      if (ports.get(i).path("nodePort").asInt(0) == 0
          && curPorts.get(i).path("nodePort").asInt(0) != 0) {
        ((ObjectNode) ports.get(i)).put("nodePort", curPorts.get(i).path("nodePort").asInt());
      }
    }
    if (spec.path("healthCheckNodePort").asInt(0) == 0
        && curSpec.path("healthCheckNodePort").asInt(0) != 0) {
      spec.put("healthCheckNodePort", curSpec.path("healthCheckNodePort").asInt());
    }
  }

  private String write(ObjectNode o) throws InvalidResourceException {
    ResourceKey key = keyOf(o);
    Optional<Entry> existing = store.get(key.toString());
    ObjectNode next = o.deepCopy();
    ObjectNode meta = next.withObject("metadata");
    if (key.namespace().isPresent()) {
      meta.put("namespace", key.namespace().get());
    }
    if (existing.isEmpty()) {
      meta.put("uid", UUID.randomUUID().toString());
      meta.put("creationTimestamp", Instant.now().toString());
      if (key.kind().equals(PodResource.KIND)) {
        // A pod's status is the kubelet's to write; a Service's (its load balancer) is the user's.
        next.remove("status");
      }
      store.put(key.toString(), next);
      return key.kind().toLowerCase() + "/" + key.name() + " created";
    }
    JsonNode cur = existing.get().value();
    if (cur.path("metadata").hasNonNull("deletionTimestamp")) {
      throw new InvalidResourceException(
          describe(o), "metadata", "is being deleted; apply again when it is gone");
    }
    if (key.kind().equals(PodResource.KIND)) {
      // As in Kubernetes, a pod's spec is immutable apart from scheduling filled in by the system.
      ObjectNode wantSpec = next.withObject("spec").deepCopy();
      ObjectNode haveSpec = ((ObjectNode) cur.path("spec")).deepCopy();
      if (!wantSpec.has("nodeName")) {
        haveSpec.remove("nodeName");
      }
      if (!wantSpec.equals(haveSpec)) {
        throw new InvalidResourceException(
            describe(o),
            "spec",
            "pod updates may not change fields other than metadata labels and annotations");
      }
      next.set("spec", cur.path("spec"));
    }
    meta.put("uid", cur.path("metadata").path("uid").asText());
    meta.put("creationTimestamp", cur.path("metadata").path("creationTimestamp").asText());
    if (cur.has("status") && key.kind().equals(PodResource.KIND)) {
      next.set("status", cur.get("status"));
    }
    if (next.equals(cur)) {
      return key.kind().toLowerCase() + "/" + key.name() + " unchanged";
    }
    try {
      store.put(key.toString(), next, existing.get().modRevision());
    } catch (ConflictException e) {
      throw new InvalidResourceException(
          describe(o), "metadata", "changed concurrently; apply again");
    }
    return key.kind().toLowerCase() + "/" + key.name() + " configured";
  }

  /** Deletes the objects; pods are marked for graceful deletion, which the controller finishes. */
  public List<String> delete(List<ObjectNode> objects) throws InvalidResourceException {
    List<String> results = new ArrayList<>();
    for (ObjectNode o : objects) {
      ResourceKey key = keyOf(o);
      Optional<Entry> cur = store.get(key.toString());
      if (cur.isEmpty()) {
        results.add(key.kind().toLowerCase() + "/" + key.name() + " not found");
        continue;
      }
      if (key.kind().equals(PodResource.KIND)) {
        ObjectNode next = cur.get().value().deepCopy();
        next.withObject("metadata").put("deletionTimestamp", Instant.now().toString());
        store.put(key.toString(), next);
      } else {
        store.delete(key.toString());
      }
      results.add(key.kind().toLowerCase() + "/" + key.name() + " deleted");
    }
    return results;
  }

  /** Where an object from a file is stored (namespaced kinds default to "default"). */
  public static ResourceKey keyOf(JsonNode o) {
    String kind = o.path("kind").asText();
    String name = o.path("metadata").path("name").asText();
    if (clusterScoped(kind)) {
      return ResourceKey.cluster(kind, name);
    }
    return ResourceKey.namespaced(
        kind, o.path("metadata").path("namespace").asText("default"), name);
  }

  static void validate(JsonNode o, Set<String> namespaces, Set<String> nodes)
      throws InvalidResourceException {
    validate(o, namespaces, nodes, FamilyCidrs.of(ServiceAllocator.SERVICE_CIDR));
  }

  static void validate(
      JsonNode o, Set<String> namespaces, Set<String> nodes, FamilyCidrs serviceCidrs)
      throws InvalidResourceException {
    String what = describe(o);
    String kind = o.path("kind").asText("");
    if (kind.isEmpty()) {
      throw new InvalidResourceException(what, "kind", "is required");
    }
    if (!KINDS.contains(kind)) {
      throw new InvalidResourceException(
          what,
          "kind",
          "'"
              + kind
              + "' is not supported by the lab (supported: "
              + String.join(", ", new TreeSet<>(KINDS))
              + ")");
    }
    String name = o.path("metadata").path("name").asText("");
    if (name.isEmpty()) {
      throw new InvalidResourceException(what, "metadata.name", "is required");
    }
    Pattern namePattern = kind.equals("Pod") ? DNS_SUBDOMAIN : DNS_LABEL;
    if (name.length() > (kind.equals("Pod") ? 253 : 63) || !namePattern.matcher(name).matches()) {
      throw new InvalidResourceException(
          what,
          "metadata.name",
          "'" + name + "' is not a valid DNS name (lowercase letters, digits, '-')");
    }
    if (kind.equals("Pod") && name.length() > 40) {
      // The pod's namespace name carries the pod name; keep it well inside the kernel's limits.
      throw new InvalidResourceException(
          what, "metadata.name", "lab pods are limited to 40 characters");
    }
    if (!clusterScoped(kind)) {
      String ns = o.path("metadata").path("namespace").asText("default");
      if (!DNS_LABEL.matcher(ns).matches()) {
        throw new InvalidResourceException(
            what, "metadata.namespace", "'" + ns + "' is not a valid namespace name");
      }
      if (!namespaces.contains(ns)) {
        throw new InvalidResourceException(
            what, "metadata.namespace", "namespace '" + ns + "' does not exist");
      }
    }
    JsonNode labels = o.path("metadata").path("labels");
    if (!labels.isMissingNode() && !labels.isObject()) {
      throw new InvalidResourceException(what, "metadata.labels", "must be a map of strings");
    }
    for (var l : labels.properties()) {
      if (!l.getValue().isTextual()) {
        throw new InvalidResourceException(
            what, "metadata.labels." + l.getKey(), "must be a string");
      }
    }
    if (kind.equals("Pod")) {
      validatePod(what, o, nodes);
    }
    if (kind.equals("Service")) {
      try {
        ServiceValidator.validate(o, serviceCidrs);
      } catch (ServiceValidator.Invalid e) {
        throw new InvalidResourceException(what, e.field, e.getMessage());
      }
    }
    if (kind.equals("EndpointSlice")) {
      validateEndpointSlice(what, o);
    }
    if (kind.equals(BgpConfiguration.KIND)) {
      if (!name.equals(BgpConfiguration.NAME)) {
        throw new InvalidResourceException(
            what, "metadata.name", "the cluster has one BGPConfiguration, named 'default'");
      }
      try {
        BgpConfiguration.from(o);
      } catch (IllegalArgumentException e) {
        throw new InvalidResourceException(what, "spec", e.getMessage());
      }
    }
    if (kind.equals("NetworkPolicy")) {
      try {
        NetworkPolicyParser.parse(o);
      } catch (InvalidPolicyException e) {
        throw new InvalidResourceException(what, e.field(), e.getMessage());
      }
    }
  }

  private static void validateEndpointSlice(String what, JsonNode o)
      throws InvalidResourceException {
    String type = o.path("addressType").asText("");
    if (!type.equals("IPv4") && !type.equals("IPv6")) {
      throw new InvalidResourceException(
          what, "addressType", "must be IPv4 or IPv6 in the lab (FQDN is not served)");
    }
    IpFamily family = IpFamily.parse(type);
    if (o.path("metadata").path("labels").path("kubernetes.io/service-name").asText("").isEmpty()) {
      throw new InvalidResourceException(
          what, "metadata.labels", "kubernetes.io/service-name is required");
    }
    JsonNode eps = o.path("endpoints");
    for (int i = 0; i < eps.size(); i++) {
      JsonNode addrs = eps.get(i).path("addresses");
      if (!addrs.isArray() || addrs.isEmpty()) {
        throw new InvalidResourceException(
            what, "endpoints[" + i + "].addresses", "at least one address is required");
      }
      for (JsonNode a : addrs) {
        boolean ok;
        try {
          ok = IpAddress.parse(a.asText()).family() == family;
        } catch (IllegalArgumentException e) {
          ok = false;
        }
        if (!ok) {
          throw new InvalidResourceException(
              what,
              "endpoints[" + i + "].addresses",
              "'" + a.asText() + "' is not an " + type + " address (addressType " + type + ")");
        }
      }
    }
    JsonNode ports = o.path("ports");
    for (int i = 0; i < ports.size(); i++) {
      JsonNode port = ports.get(i).path("port");
      if (!port.isInt() || port.asInt() < 1 || port.asInt() > 65535) {
        throw new InvalidResourceException(
            what, "ports[" + i + "].port", "must be a number between 1 and 65535, got " + port);
      }
    }
  }

  private static void validatePod(String what, JsonNode o, Set<String> nodes)
      throws InvalidResourceException {
    JsonNode spec = o.path("spec");
    JsonNode containers = spec.path("containers");
    if (!containers.isArray() || containers.isEmpty()) {
      throw new InvalidResourceException(
          what, "spec.containers", "at least one container is required");
    }
    Set<String> portKeys = new HashSet<>();
    for (int i = 0; i < containers.size(); i++) {
      JsonNode c = containers.get(i);
      if (c.path("name").asText("").isEmpty()) {
        throw new InvalidResourceException(what, "spec.containers[" + i + "].name", "is required");
      }
      JsonNode ports = c.path("ports");
      for (int j = 0; j < ports.size(); j++) {
        JsonNode p = ports.get(j);
        String field = "spec.containers[" + i + "].ports[" + j + "]";
        JsonNode cp = p.path("containerPort");
        if (!cp.isInt() || cp.asInt() < 1 || cp.asInt() > 65535) {
          throw new InvalidResourceException(
              what, field + ".containerPort", "must be a number between 1 and 65535, got " + cp);
        }
        String proto = p.path("protocol").asText("TCP");
        if (!Set.of("TCP", "UDP", "SCTP").contains(proto)) {
          throw new InvalidResourceException(
              what, field + ".protocol", "must be TCP, UDP or SCTP, got '" + proto + "'");
        }
        if (!portKeys.add(cp.asInt() + "/" + proto)) {
          throw new InvalidResourceException(
              what, field, "duplicate port " + cp.asInt() + "/" + proto);
        }
      }
    }
    if (spec.has("nodeName") && !nodes.contains(spec.path("nodeName").asText())) {
      throw new InvalidResourceException(
          what, "spec.nodeName", "node '" + spec.path("nodeName").asText() + "' does not exist");
    }
  }
}
