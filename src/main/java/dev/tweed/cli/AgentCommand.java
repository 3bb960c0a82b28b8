package dev.tweed.cli;

import dev.tweed.agent.AgentConfig;
import dev.tweed.agent.NodeAgent;
import dev.tweed.cni.AgentSocketServer;
import dev.tweed.cni.CniPlugin;
import dev.tweed.datastore.DatastoreKind;
import dev.tweed.datastore.DatastoreSpec;
import dev.tweed.datastore.EtcdTls;
import dev.tweed.model.Datapath;
import dev.tweed.model.FamilyCidrs;
import dev.tweed.model.ProxyMode;
import dev.tweed.model.Routing;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Runs the node agent in the current network namespace. */
@Command(name = "agent", description = "Run the node agent (in the node's network namespace).")
public final class AgentCommand implements Callable<Integer> {
  private static final Logger LOG = LoggerFactory.getLogger(AgentCommand.class);

  @Option(names = "--node", required = true, description = "This node's name.")
  String node;

  @Option(
      names = "--datastore",
      defaultValue = "embedded",
      description = "embedded (--store DIR) | etcd (--etcd-endpoints) | kubernetes (--kubeconfig)")
  DatastoreKind datastore;

  @Option(names = "--store", description = "Embedded datastore directory.")
  Path store;

  @Option(
      names = "--etcd-endpoints",
      split = ",",
      description =
          "etcd members' client URLs, comma-separated (http://IP:2379,... or https://...).")
  List<String> etcdEndpoints = List.of();

  @Option(
      names = "--etcd-cert-file",
      description = "With https etcd endpoints: this agent's client certificate (PEM).")
  Path etcdCertFile;

  @Option(names = "--etcd-key-file", description = "The client certificate's private key (PEM).")
  Path etcdKeyFile;

  @Option(
      names = "--etcd-ca-file",
      description = "The CA that signed the etcd members' certificates (PEM).")
  Path etcdCaFile;

  @Option(
      names = "--kubeconfig",
      description = "Kubeconfig for --datastore kubernetes (default: in-cluster service account).")
  Path kubeconfig;

  @Option(
      names = "--socket",
      defaultValue = "/run/tweed/agent.sock",
      description = "CNI/health socket.")
  Path socket;

  @Option(
      names = "--resync",
      defaultValue = "1s",
      description = "Drift-repair interval (e.g. 1s, 500ms).")
  String resync;

  @Option(
      names = "--cluster-cidr",
      defaultValue = "10.244.0.0/16",
      description =
          "Pod CIDRs, one per family in the cluster's order (dual-stack:"
              + " 10.244.0.0/16,fd00:10:244::/56).")
  String clusterCidr;

  @Option(
      names = "--service-cidr",
      defaultValue = "10.96.0.0/16",
      description =
          "ClusterIP ranges, one per family in the same order (dual-stack:"
              + " 10.96.0.0/16,fd00:10:96::/112).")
  String serviceCidr;

  @Option(names = "--proxy-mode", defaultValue = "iptables", description = "iptables | nftables")
  ProxyMode proxyMode;

  @Option(
      names = "--routing",
      defaultValue = "vxlan",
      description = "vxlan (an overlay) | bgp (BIRD announces this node's blocks to its peers)")
  Routing routing;

  @Option(
      names = "--dataplane",
      defaultValue = "standard",
      description = "standard (the kernel's routing and netfilter) | ebpf (tc programs and maps)")
  Datapath dataplane;

  @Option(
      names = "--bpf-pin-dir",
      defaultValue = "/sys/fs/bpf/tweed",
      description = "With --dataplane ebpf: where the maps are pinned (a directory on a bpffs).")
  Path bpfPinDir;

  @Option(
      names = "--bpf-object",
      description =
          "With --dataplane ebpf: the compiled datapath (built beside the socket if absent).")
  Path bpfObject;

  @Option(
      names = "--metrics-address",
      defaultValue = "",
      description =
          "HOST:PORT where Prometheus metrics are served (/metrics), e.g. 0.0.0.0:9091 as felix"
              + " serves them; empty (the default) serves none.")
  String metricsAddress;

  @Option(
      names = "--nat-outgoing",
      negatable = true,
      defaultValue = "true",
      fallbackValue = "true",
      description =
          "Pods' traffic to addresses outside the pod CIDRs leaves with the node's address of its"
              + " family (Calico's natOutgoing; default on, --no-nat-outgoing where pod addresses"
              + " are routable outside the cluster). Standard datapath.")
  boolean natOutgoing;

  @Option(names = "--lab-marker", hidden = true, description = "Tags the process for lab down.")
  String labMarker;

  private FamilyCidrs cidrs(String option, String text) {
    try {
      return FamilyCidrs.parse(text);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(option + ": " + e.getMessage());
    }
  }

  @Override
  public Integer call() throws Exception {
    Duration interval =
        resync.endsWith("ms")
            ? Duration.ofMillis(Long.parseLong(resync.substring(0, resync.length() - 2)))
            : Duration.parse("PT" + resync.toUpperCase());
    NodeAgent agent =
        new NodeAgent(
            new AgentConfig(
                node,
                new DatastoreSpec(
                    datastore,
                    Optional.ofNullable(store),
                    etcdEndpoints,
                    EtcdTls.of(etcdCertFile, etcdKeyFile, etcdCaFile),
                    Optional.ofNullable(kubeconfig)),
                socket,
                interval,
                cidrs("--cluster-cidr", clusterCidr),
                cidrs("--service-cidr", serviceCidr),
                proxyMode,
                routing,
                dataplane,
                Optional.ofNullable(bpfObject),
                bpfPinDir,
                metricsAddress,
                natOutgoing));
    // The agent's socket serves CNI calls (which wait until the agent is ready) and its health
    // and flows; the agent itself knows nothing of CNI.
    CniPlugin plugin =
        new CniPlugin(node, agent.store(), agent::notReadyReason, agent.metrics()::cniCall);
    AgentSocketServer server = new AgentSocketServer(socket, plugin, agent::operation);
    LOG.info("event=agent-socket-serving node={} socket={}", node, socket);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  server.close();
                  agent.close();
                }));
    agent.run();
    return 0;
  }
}
