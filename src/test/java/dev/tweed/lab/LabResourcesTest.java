package dev.tweed.lab;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tweed.datastore.JournalDatastore;
import dev.tweed.model.BgpConfiguration;
import dev.tweed.model.NodeResource;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LabResourcesTest {
  @TempDir Path dir;
  JournalDatastore store;

  @BeforeEach
  void seed() {
    store = new JournalDatastore(dir.resolve("store"));
    NodeResource n = new NodeResource("node-1", "172.31.0.11");
    store.put(n.key().toString(), n.toJson());
    store.put("Namespace/default", LabResources.namespace("default"));
  }

  @AfterEach
  void close() {
    store.close();
  }

  private Path yaml(String text) throws Exception {
    Path p = Files.createTempFile(dir, "r", ".yaml");
    Files.writeString(p, text);
    return p;
  }

  @Test
  void invalidObjectNamesObjectAndFieldAndNothingIsApplied() throws Exception {
    Path f =
        yaml(
            """
        apiVersion: v1
        kind: Pod
        metadata: {name: good}
        spec: {containers: [{name: c}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: bad}
        spec: {containers: [{name: c, ports: [{containerPort: 70000}]}]}
        """);
    var res = new LabResources(store);
    assertThatThrownBy(() -> res.apply(LabResources.read(f)))
        .isInstanceOf(InvalidResourceException.class)
        .hasMessage(
            "Pod default/bad: spec.containers[0].ports[0].containerPort: must be a number between 1 and 65535, got 70000");
    assertThat(store.list("Pod/").entries()).isEmpty();
  }

  @Test
  void namespaceMustExistOrComeInTheSameFile() throws Exception {
    var res = new LabResources(store);
    assertThatThrownBy(
            () ->
                res.apply(
                    LabResources.read(
                        yaml(
                            """
        kind: Pod
        metadata: {name: p, namespace: x}
        spec: {containers: [{name: c}]}
        """))))
        .hasMessageContaining("metadata.namespace: namespace 'x' does not exist");
    assertThat(
            res.apply(
                LabResources.read(
                    yaml(
                        """
        kind: Namespace
        metadata: {name: x}
        ---
        kind: Pod
        metadata: {name: p, namespace: x}
        spec: {containers: [{name: c}]}
        """))))
        .containsExactly("namespace/x created", "pod/p created");
  }

  @Test
  void applyTwiceIsUnchangedAndSpecChangesAreRefused() throws Exception {
    var res = new LabResources(store);
    String pod =
        """
        kind: Pod
        metadata: {name: p, labels: {app: a}}
        spec: {containers: [{name: c}]}
        """;
    assertThat(res.apply(LabResources.read(yaml(pod)))).containsExactly("pod/p created");
    assertThat(res.apply(LabResources.read(yaml(pod)))).containsExactly("pod/p unchanged");
    assertThat(res.apply(LabResources.read(yaml(pod.replace("app: a", "app: b")))))
        .containsExactly("pod/p configured");
    assertThatThrownBy(() -> res.apply(LabResources.read(yaml(pod.replace("name: c", "name: d")))))
        .hasMessageContaining("pod updates may not change fields");
  }

  @Test
  void rejectsUnknownKindsBadNamesAndUnknownNodes() throws Exception {
    var res = new LabResources(store);
    assertThatThrownBy(
            () -> res.apply(LabResources.read(yaml("kind: Deployment\nmetadata: {name: d}\n"))))
        .hasMessageContaining("Deployment default/d: kind: 'Deployment' is not supported");
    assertThatThrownBy(
            () ->
                res.apply(
                    LabResources.read(
                        yaml(
                            "kind: Pod\nmetadata: {name: Bad_Name}\nspec: {containers: [{name: c}]}\n"))))
        .hasMessageContaining("metadata.name");
    assertThatThrownBy(
            () ->
                res.apply(
                    LabResources.read(
                        yaml(
                            "kind: Pod\nmetadata: {name: p}\nspec: {nodeName: node-9, containers: [{name: c}]}\n"))))
        .hasMessageContaining("spec.nodeName: node 'node-9' does not exist");
    assertThatThrownBy(() -> LabResources.read(yaml("kind: Pod\nmetadata: {name: [\n")))
        .isInstanceOf(InvalidResourceException.class);
  }

  @Test
  void bgpConfigurationIsAppliedWithItsTimersChecked() throws Exception {
    var res = new LabResources(store);
    assertThatThrownBy(
            () ->
                res.apply(
                    LabResources.read(
                        yaml(
                            """
                            apiVersion: tweed.dev/v1
                            kind: BGPConfiguration
                            metadata: {name: default}
                            spec: {holdTimeSeconds: 9, keepaliveTimeSeconds: 5}
                            """))))
        .isInstanceOf(InvalidResourceException.class)
        .hasMessageContaining("BGPConfiguration default: spec: BGP keepalive time");
    assertThatThrownBy(
            () ->
                res.apply(
                    LabResources.read(
                        yaml(
                            """
                            apiVersion: tweed.dev/v1
                            kind: BGPConfiguration
                            metadata: {name: other}
                            spec: {}
                            """))))
        .hasMessageContaining("named 'default'");
    assertThat(store.list("BGPConfiguration/").entries()).isEmpty();
    res.apply(
        LabResources.read(
            yaml(
                """
                apiVersion: tweed.dev/v1
                kind: BGPConfiguration
                metadata: {name: default}
                spec: {holdTimeSeconds: 12, keepaliveTimeSeconds: 4}
                """)));
    assertThat(store.list("BGPConfiguration/").entries())
        .singleElement()
        .satisfies(e -> assertThat(BgpConfiguration.from(e.value()).holdSeconds()).isEqualTo(12));
  }
}
