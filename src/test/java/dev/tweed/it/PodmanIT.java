package dev.tweed.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.model.Json;
import dev.tweed.sys.Command;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Tweed's plugin driven by a container runtime nobody here wrote: Debian's podman (CNI backend,
 * runc, cgroupfs), started the way a runtime runs on a node, in a mount namespace of its own. Its
 * network namespaces are bind mounts in that mount namespace, which the agent cannot see: the shim
 * must hand the namespace over itself.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PodmanIT {
  Tweed tweed;
  Path work;
  Process runtimeMounts;
  String podIp;

  /** The lab's IP families; a subclass runs the test again in an IPv6-only lab. */
  String ipFamily() {
    return "ipv4";
  }

  boolean v6() {
    return ipFamily().equals("ipv6");
  }

  @BeforeAll
  void up() throws Exception {
    tweed = Tweed.newLab(v6() ? "podman6" : "podman");
    tweed.ok("lab", "up", "--nodes", "2", "--ip-family", ipFamily());
    Path pod = Files.createTempFile("tw-podman", ".yaml");
    Files.writeString(
        pod,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: far}\n"
            + "spec: {nodeName: node-2, containers: [{name: main, image: probe}]}\n");
    tweed.ok("lab", "apply", "-f", pod.toString());
    Files.delete(pod);
    podIp =
        Json.parse(tweed.ok("lab", "get", "pods", "-o", "json"))
            .path("items")
            .get(0)
            .path("status")
            .path("podIP")
            .asText();

    work = Files.createTempDirectory("tw-podman");
    for (String d : List.of("rootfs/bin", "bin", "net.d", "root", "run", "tmp")) {
      Files.createDirectories(work.resolve(d));
    }
    // A busybox image from a local root filesystem: no registry is involved.
    Files.copy(Path.of("/bin/busybox"), work.resolve("rootfs/bin/busybox"));
    for (String applet : List.of("sh", "nc", "ip", "hostname", "sleep")) {
      Files.createSymbolicLink(work.resolve("rootfs/bin/" + applet), Path.of("busybox"));
    }
    Command.run(
        List.of(
            "tar",
            "-C",
            work.resolve("rootfs").toString(),
            "-cf",
            work.resolve("busybox.tar").toString(),
            "."));
    tweed.ok("cni-install", work.resolve("bin").toString());
    Files.writeString(
        work.resolve("net.d/tweed.conflist"), tweed.ok("lab", "netconf", "node-1", "--conflist"));
    Files.writeString(
        work.resolve("containers.conf"),
        "[network]\nnetwork_backend = \"cni\"\n"
            + "cni_plugin_dirs = [\""
            + work.resolve("bin")
            + "\"]\n"
            + "network_config_dir = \""
            + work.resolve("net.d")
            + "\"\n"
            + "[engine]\ncgroup_manager = \"cgroupfs\"\nruntime = \"runc\"\n"
            + "events_logger = \"file\"\n");
    // The runtime's own mount namespace (slave: it sees the host's mounts, the host not its).
    runtimeMounts =
        new ProcessBuilder("unshare", "--mount", "--propagation", "slave", "sleep", "3600").start();
    Tweed.await(
        "the runtime's mount namespace",
        Duration.ofSeconds(5),
        () -> {
          try {
            return !Files.readSymbolicLink(Path.of("/proc", "" + runtimeMounts.pid(), "ns/mnt"))
                .equals(Files.readSymbolicLink(Path.of("/proc/self/ns/mnt")));
          } catch (IOException e) {
            return false;
          }
        });
    podman("import", work.resolve("busybox.tar").toString(), "localhost/tweed-busybox:latest");
  }

  @AfterAll
  void down() throws Exception {
    try {
      if (runtimeMounts != null) {
        podman("rm", "-a", "-f", "-t", "0");
      }
    } finally {
      if (runtimeMounts != null) {
        runtimeMounts.destroy();
        runtimeMounts.waitFor();
      }
      tweed.ok("lab", "down");
      if (work != null) {
        try (Stream<Path> s = Files.walk(work)) {
          s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
      }
    }
    assertThat(tweed.namespaces()).isEmpty();
  }

  /** podman as a runtime runs on node-1: its mount namespace, the node's network namespace. */
  Command.Result podmanResult(String... args) {
    List<String> argv =
        new ArrayList<>(
            List.of(
                "nsenter",
                "--mount=/proc/" + runtimeMounts.pid() + "/ns/mnt",
                "--net=/run/netns/" + tweed.nodeNs("node-1"),
                "podman",
                "--root",
                work.resolve("root").toString(),
                "--runroot",
                work.resolve("run").toString(),
                "--tmpdir",
                work.resolve("tmp").toString()));
    argv.addAll(List.of(args));
    return Command.exec(
        argv,
        new byte[0],
        Map.of("CONTAINERS_CONF", work.resolve("containers.conf").toString()),
        120);
  }

  String podman(String... args) {
    Command.Result r = podmanResult(args);
    assertThat(r.exitCode()).as("podman %s: %s", String.join(" ", args), r.stderr()).isZero();
    return r.stdout().strip();
  }

  int allocationsOnNode1() {
    return tweed.allocationsOn("node-1");
  }

  @Test
  void aContainerOfARealRuntimeInItsOwnMountNamespaceJoinsTheClusterNetwork() throws Exception {
    String linksBefore = Tweed.ip(tweed.nodeNs("node-1"), "-o", "link", "show");
    String routesBefore = Tweed.ip(tweed.nodeNs("node-1"), v6() ? "-6" : "-4", "route", "show");
    int allocationsBefore = allocationsOnNode1();

    podman(
        "run",
        "-d",
        "--name",
        "c1",
        "--hostname",
        "podman-c1",
        "--network",
        "tweed",
        "--ulimit",
        "nofile=1024:1024",
        "--ulimit",
        "nproc=1024:1024",
        "localhost/tweed-busybox",
        "nc",
        "-ll",
        "-p",
        "8080",
        "-e",
        "hostname");
    JsonNode inspect = Json.parse(podman("inspect", "c1"));
    String sandbox = inspect.get(0).path("NetworkSettings").path("SandboxKey").asText();
    // The agent's mount namespace has no such mount: only the passed descriptor reaches it.
    assertThat(
            Command.exec(
                    List.of(
                        "ip",
                        "netns",
                        "exec",
                        tweed.nodeNs("node-1"),
                        "nsenter",
                        "--net=" + sandbox,
                        "true"),
                    "",
                    Map.of())
                .ok())
        .as("the runtime's namespace mount %s is invisible outside its mount namespace", sandbox)
        .isFalse();
    String addr =
        podman(
            "exec",
            "c1",
            "ip",
            v6() ? "-6" : "-4",
            "-o",
            "addr",
            "show",
            "eth0",
            "scope",
            "global");
    String pattern =
        v6() ? "inet6 (fd00:10:244:[0-9a-f:]+)/128" : "inet (10\\.244\\.\\d+\\.\\d+)/32";
    assertThat(addr).containsPattern(pattern);
    String containerIp = addr.replaceAll("(?s).*" + pattern + ".*", "$1");
    assertThat(allocationsOnNode1()).isEqualTo(allocationsBefore + 1);

    // Container on node-1 to the pod on node-2, and back.
    assertThat(podman("exec", "c1", "sh", "-c", "echo | nc -w 2 " + podIp + " 80"))
        .isEqualTo("default/far");
    Command.Result back =
        Command.exec(
            List.of(
                "ip",
                "netns",
                "exec",
                tweed.prefix() + "pod-default-far",
                "sh",
                "-c",
                "echo | busybox nc -w 2 " + containerIp + " 8080"),
            "",
            Map.of());
    assertThat(back.stdout().strip()).as(back.stderr()).isEqualTo("podman-c1");

    podman("rm", "-f", "-t", "0", "c1");
    assertThat(Tweed.ip(tweed.nodeNs("node-1"), "-o", "link", "show")).isEqualTo(linksBefore);
    assertThat(Tweed.ip(tweed.nodeNs("node-1"), v6() ? "-6" : "-4", "route", "show"))
        .isEqualTo(routesBefore);
    assertThat(allocationsOnNode1()).isEqualTo(allocationsBefore);
  }
}
