package dev.tweed.model;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** A read-only typed view of a Kubernetes Pod, for the parts the network and the lab use. */
public record PodResource(
    String namespace,
    String name,
    String uid,
    Optional<String> nodeName,
    List<ContainerPort> ports,
    boolean deleting,
    String phase,
    Optional<String> podIp,
    List<String> podIps,
    JsonNode raw) {
  public static final String KIND = "Pod";
  public static final String NETNS_ANNOTATION = "tweed.dev/netns";
  public static final String CONTAINER_ID_ANNOTATION = "tweed.dev/container-id";

  /** A declared container port. */
  public record ContainerPort(String name, int containerPort, String protocol) {}

  public static PodResource from(JsonNode n) {
    JsonNode meta = n.path("metadata");
    List<ContainerPort> ports = new ArrayList<>();
    for (JsonNode c : n.path("spec").path("containers")) {
      for (JsonNode p : c.path("ports")) {
        ports.add(
            new ContainerPort(
                p.path("name").asText(""),
                p.path("containerPort").asInt(),
                p.path("protocol").asText("TCP")));
      }
    }
    return new PodResource(
        meta.path("namespace").asText("default"),
        meta.path("name").asText(),
        meta.path("uid").asText(""),
        text(n.path("spec").path("nodeName")),
        List.copyOf(ports),
        meta.hasNonNull("deletionTimestamp"),
        n.path("status").path("phase").asText("Pending"),
        text(n.path("status").path("podIP")),
        podIps(n.path("status")),
        n);
  }

  /** {@code status.podIPs}, or the lone {@code status.podIP} of a pod written without them. */
  private static List<String> podIps(JsonNode status) {
    List<String> ips = new ArrayList<>();
    for (JsonNode p : status.path("podIPs")) {
      text(p.path("ip")).ifPresent(ips::add);
    }
    if (ips.isEmpty()) {
      text(status.path("podIP")).ifPresent(ips::add);
    }
    return List.copyOf(ips);
  }

  /** The pod's address of {@code family}, if it has one. */
  public Optional<String> podIp(IpFamily family) {
    return podIps.stream().filter(a -> IpFamily.of(a) == family).findFirst();
  }

  private static Optional<String> text(JsonNode n) {
    return n.isTextual() && !n.asText().isEmpty() ? Optional.of(n.asText()) : Optional.empty();
  }

  public Optional<String> annotation(String key) {
    return text(raw.path("metadata").path("annotations").path(key));
  }

  public ResourceKey key() {
    return ResourceKey.namespaced(KIND, namespace, name);
  }

  public String qualifiedName() {
    return namespace + "/" + name;
  }
}
