package dev.tweed.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tweed.cli.CommandTree;
import dev.tweed.cni.CniPlugin;
import dev.tweed.cni.CniVersions;
import dev.tweed.datastore.kubernetes.KubernetesKind;
import dev.tweed.model.Json;
import dev.tweed.model.WorkloadEndpoint;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBinding;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * What a cluster operator applies from {@code deploy/}: real Kubernetes objects that cover every
 * kind the agent reads or writes, a DaemonSet whose arguments the agent accepts, and a CNI
 * configuration the plugin accepts.
 */
class DeployManifestsTest {
  private static KubernetesClient client;

  @BeforeAll
  static void offlineClient() {
    // Only parses; never connects.
    client =
        new KubernetesClientBuilder()
            .withConfig(new ConfigBuilder().withMasterUrl("https://127.0.0.1:1").build())
            .build();
  }

  @AfterAll
  static void close() {
    client.close();
  }

  private static List<HasMetadata> load(String file) throws Exception {
    try (InputStream in = Files.newInputStream(Path.of("deploy", file))) {
      return client.load(in).items();
    }
  }

  private static <T> List<T> of(List<HasMetadata> items, Class<T> type) {
    return items.stream().filter(type::isInstance).map(type::cast).toList();
  }

  @Test
  void crdsDefineEveryCustomKindWhereTheClientLooksForIt() throws Exception {
    List<CustomResourceDefinition> crds = of(load("crds.yaml"), CustomResourceDefinition.class);
    for (KubernetesKind k : KubernetesKind.ALL) {
      if (!k.custom()) {
        continue;
      }
      var crd =
          crds.stream()
              .filter(c -> c.getSpec().getNames().getKind().equals(k.kind()))
              .findFirst()
              .orElseThrow(() -> new AssertionError("no CRD for " + k.kind()));
      assertThat(crd.getMetadata().getName()).isEqualTo(k.plural() + "." + k.group());
      assertThat(crd.getSpec().getGroup()).isEqualTo(k.group());
      assertThat(crd.getSpec().getNames().getPlural()).isEqualTo(k.plural());
      assertThat(crd.getSpec().getScope()).isEqualTo(k.namespaced() ? "Namespaced" : "Cluster");
      assertThat(crd.getSpec().getVersions())
          .anySatisfy(v -> assertThat(v.getName()).isEqualTo(k.version()));
      // Allocations and spec are written in one update guarded by one resourceVersion.
      assertThat(crd.getSpec().getVersions())
          .allSatisfy(v -> assertThat(v.getSubresources()).isNull());
    }
  }

  /**
   * What the agent writes fits the schema the API server prunes by: every field of a workload
   * endpoint's spec is declared (an undeclared one would be dropped on write), and every required
   * one is written.
   */
  @Test
  void aWorkloadEndpointAsWrittenFitsItsSchema() throws Exception {
    var crd =
        of(load("crds.yaml"), CustomResourceDefinition.class).stream()
            .filter(c -> c.getSpec().getNames().getKind().equals(WorkloadEndpoint.KIND))
            .findFirst()
            .orElseThrow();
    var spec =
        crd.getSpec()
            .getVersions()
            .getFirst()
            .getSchema()
            .getOpenAPIV3Schema()
            .getProperties()
            .get("spec");
    var written =
        new WorkloadEndpoint(
                "node-1",
                "c1",
                "eth0",
                "/run/netns/p",
                "tw0",
                List.of("10.244.0.5", "fd00:10:244::5"),
                "02:00:00:00:00:01",
                "default/p")
            .toJson()
            .path("spec");
    List<String> fields = new ArrayList<>();
    written.fieldNames().forEachRemaining(fields::add);
    assertThat(spec.getProperties().keySet()).containsExactlyInAnyOrderElementsOf(fields);
    assertThat(fields).containsAll(spec.getRequired());
    assertThat(spec.getProperties().get("ips").getType()).isEqualTo("array");
  }

  @Test
  void rbacLetsTheAgentFollowEveryKindAndWriteOnlyItsOwn() throws Exception {
    List<HasMetadata> rbac = load("rbac.yaml");
    ClusterRole role = of(rbac, ClusterRole.class).getFirst();
    for (KubernetesKind k : KubernetesKind.ALL) {
      assertThat(verbs(role, k)).as(k.kind()).contains("list", "watch", "get");
      boolean written = k.kind().equals("IPAMBlock") || k.kind().equals("WorkloadEndpoint");
      if (k.kind().equals("SecurityIdentity")) {
        // Allocated by creation, never changed.
        assertThat(verbs(role, k))
            .as(k.kind())
            .contains("create")
            .doesNotContain("update", "delete");
      } else if (written) {
        assertThat(verbs(role, k)).as(k.kind()).contains("create", "update", "delete");
      } else {
        assertThat(verbs(role, k)).as(k.kind()).doesNotContain("create", "update", "delete");
      }
    }
    ClusterRoleBinding binding = of(rbac, ClusterRoleBinding.class).getFirst();
    assertThat(binding.getRoleRef().getName()).isEqualTo(role.getMetadata().getName());
    DaemonSet ds = of(load("daemonset.yaml"), DaemonSet.class).getFirst();
    assertThat(binding.getSubjects())
        .anySatisfy(
            s -> {
              assertThat(s.getName())
                  .isEqualTo(ds.getSpec().getTemplate().getSpec().getServiceAccountName());
              assertThat(s.getNamespace()).isEqualTo(ds.getMetadata().getNamespace());
            });
  }

  private static List<String> verbs(ClusterRole role, KubernetesKind k) {
    return role.getRules().stream()
        .filter(r -> r.getApiGroups().contains(k.group()) && r.getResources().contains(k.plural()))
        .map(PolicyRule::getVerbs)
        .flatMap(List::stream)
        .toList();
  }

  @Test
  void theCniConfigurationIsAConflistThePluginAccepts() throws Exception {
    ConfigMap cm = of(load("configmap.yaml"), ConfigMap.class).getFirst();
    var conflist = Json.parse(cm.getData().get("cni_network_config"));
    assertThat(conflist.path("cniVersion").asText()).isEqualTo(CniVersions.CONFIGURED);
    var plugin = conflist.path("plugins").get(0);
    assertThat(plugin.path("type").asText()).isEqualTo("tweed-cni");
    assertThat(CniPlugin.poolsOf(plugin).getFirst().cidr().toString())
        .isEqualTo(cm.getData().get("cluster_cidr"));
  }

  @Test
  void theDaemonSetInstallsTheCniOnTheHostAndRunsTheAgentOnTheApi() throws Exception {
    DaemonSet ds = of(load("daemonset.yaml"), DaemonSet.class).getFirst();
    var pod = ds.getSpec().getTemplate().getSpec();
    assertThat(pod.getHostNetwork()).isTrue();
    Map<String, String> hostPaths = new HashMap<>();
    pod.getVolumes()
        .forEach(
            v -> {
              if (v.getHostPath() != null) {
                hostPaths.put(v.getName(), v.getHostPath().getPath());
              }
            });
    Container install = pod.getInitContainers().getFirst();
    assertThat(
            install.getVolumeMounts().stream()
                .map(m -> hostPaths.get(m.getName()) + "->" + m.getMountPath()))
        .contains("/opt/cni/bin->/host/opt/cni/bin", "/etc/cni/net.d->/host/etc/cni/net.d");
    assertThat(Files.readString(Path.of("deploy/install-cni.sh")))
        .contains("/host/opt/cni/bin", "/host/etc/cni/net.d", "CNI_NETWORK_CONFIG");

    Container agent = pod.getContainers().getFirst();
    // The shim on the host and the agent meet at the socket the conflist names.
    ConfigMap cm = of(load("configmap.yaml"), ConfigMap.class).getFirst();
    String socket =
        Json.parse(cm.getData().get("cni_network_config"))
            .path("plugins")
            .get(0)
            .path("agentSocket")
            .asText();
    assertThat(
            agent.getVolumeMounts().stream()
                .filter(m -> socket.startsWith(m.getMountPath() + "/"))
                .map(m -> hostPaths.get(m.getName())))
        .containsExactly(Path.of(socket).getParent().toString());
    // The agent's arguments, with the env references filled in, parse as `tweed agent`.
    Map<String, String> env = new HashMap<>();
    env.put("NODE_NAME", "node-1");
    for (var e : agent.getEnv()) {
      if (e.getValueFrom() != null && e.getValueFrom().getConfigMapKeyRef() != null) {
        env.put(e.getName(), cm.getData().get(e.getValueFrom().getConfigMapKeyRef().getKey()));
      }
    }
    List<String> args =
        agent.getArgs().stream()
            .map(
                a -> {
                  String out = a;
                  for (var e : env.entrySet()) {
                    out = out.replace("$(" + e.getKey() + ")", e.getValue());
                  }
                  return out;
                })
            .toList();
    assertThat(args).contains("--datastore=kubernetes", "--socket=" + socket);
    var parsed = CommandTree.full().parseArgs(args.toArray(String[]::new));
    assertThat(parsed.subcommand().commandSpec().name()).isEqualTo("agent");
    assertThat(agent.getReadinessProbe().getExec().getCommand()).contains("health", "--ready");
    CommandTree.full()
        .parseArgs(
            agent.getReadinessProbe().getExec().getCommand().stream()
                .skip(1)
                .toArray(String[]::new));
  }
}
