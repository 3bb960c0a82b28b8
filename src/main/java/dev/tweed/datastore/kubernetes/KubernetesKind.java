package dev.tweed.datastore.kubernetes;

import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import java.util.List;
import java.util.Optional;

/**
 * A kind Tweed reads or writes, and where the API server serves it. Tweed's resource keys use the
 * kind name ({@code Pod/namespace/name}); the API path needs group, version and plural.
 */
public record KubernetesKind(
    String kind, String group, String version, String plural, boolean namespaced) {
  public static final String TWEED_GROUP = "tweed.dev";

  /** Every kind the agent follows, in the order the informers start. */
  public static final List<KubernetesKind> ALL =
      List.of(
          new KubernetesKind("Node", "", "v1", "nodes", false),
          new KubernetesKind("Namespace", "", "v1", "namespaces", false),
          new KubernetesKind("Pod", "", "v1", "pods", true),
          new KubernetesKind("Service", "", "v1", "services", true),
          new KubernetesKind("EndpointSlice", "discovery.k8s.io", "v1", "endpointslices", true),
          new KubernetesKind("NetworkPolicy", "networking.k8s.io", "v1", "networkpolicies", true),
          new KubernetesKind("IPAMBlock", TWEED_GROUP, "v1", "ipamblocks", false),
          new KubernetesKind("WorkloadEndpoint", TWEED_GROUP, "v1", "workloadendpoints", false),
          new KubernetesKind("BGPConfiguration", TWEED_GROUP, "v1", "bgpconfigurations", false),
          new KubernetesKind("SecurityIdentity", TWEED_GROUP, "v1", "securityidentities", false));

  public static Optional<KubernetesKind> of(String kind) {
    return ALL.stream().filter(k -> k.kind().equals(kind)).findFirst();
  }

  public static KubernetesKind require(String kind) {
    return of(kind)
        .orElseThrow(() -> new IllegalArgumentException("no Kubernetes mapping for kind " + kind));
  }

  public String apiVersion() {
    return group.isEmpty() ? version : group + "/" + version;
  }

  /** Tweed's own kinds are custom resources; their definitions are in deploy/crds.yaml. */
  public boolean custom() {
    return group.equals(TWEED_GROUP);
  }

  public ResourceDefinitionContext context() {
    return new ResourceDefinitionContext.Builder()
        .withGroup(group)
        .withVersion(version)
        .withKind(kind)
        .withPlural(plural)
        .withNamespaced(namespaced)
        .build();
  }
}
