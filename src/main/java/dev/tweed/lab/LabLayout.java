package dev.tweed.lab;

import dev.tweed.model.Cidr;
import dev.tweed.model.FamilyCidrs;
import dev.tweed.model.IpFamilies;
import dev.tweed.model.IpFamily;
import dev.tweed.model.PodResource;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Names and places of one lab. Every namespace starts with {@code tw-<lab>-} so that nothing
 * outside the lab is ever touched, and {@code lab down} can sweep by prefix after a crash.
 */
public record LabLayout(String name, Path dir) {
  public static final String UNDERLAY_PREFIX = "172.31.0.";
  public static final String ROUTER_IP = UNDERLAY_PREFIX + "1";
  public static final int UNDERLAY_PREFIX_LENGTH = 24;
  public static final String POD_CIDR = "10.244.0.0/16";
  public static final int BLOCK_SIZE = 26;

  /** The underlay's IPv6 prefix in ipv6 and dual labs (the IPv4 one stays: it is dual-stack). */
  public static final String UNDERLAY6_PREFIX = "fd00:172:31::";

  public static final String ROUTER_IP6 = UNDERLAY6_PREFIX + "1";
  public static final int UNDERLAY6_PREFIX_LENGTH = 64;
  public static final String POD_CIDR6 = "fd00:10:244::/56";
  public static final int BLOCK_SIZE6 = 122;
  public static final String SERVICE_CIDR = "10.96.0.0/16";

  /** As kind's default IPv6 Service range. */
  public static final String SERVICE_CIDR6 = "fd00:10:96::/112";

  public static final String BRIDGE = "br0";

  public static LabLayout of(String name) {
    if (!name.matches("[a-z0-9]([a-z0-9-]{0,14}[a-z0-9])?")) {
      throw new IllegalArgumentException(
          "lab name must be 1-16 lowercase letters, digits or '-': " + name);
    }
    return new LabLayout(name, Path.of("/run/tweed", name));
  }

  public String prefix() {
    return "tw-" + name + "-";
  }

  public String fabricNs() {
    return prefix() + "fabric";
  }

  public String routerNs() {
    return prefix() + "router";
  }

  public static String nodeName(int i) {
    return "node-" + i;
  }

  public String nodeNs(String node) {
    return prefix() + node;
  }

  /** The network namespace a pod lives in: the one its annotation names, else its default name. */
  public String netnsOf(PodResource pod) {
    return pod.annotation(PodResource.NETNS_ANNOTATION).orElse(podNs(pod.namespace(), pod.name()));
  }

  public String podNs(String namespace, String pod) {
    return prefix() + "pod-" + namespace + "-" + pod;
  }

  public static String nodeIp(int i) {
    return UNDERLAY_PREFIX + (10 + i);
  }

  /** A node's underlay address by its name ({@code node-3}). */
  public static String nodeIp(String node) {
    return nodeIp(nodeIndex(node));
  }

  /** Node {@code i}'s IPv6 underlay address: the same digits as its IPv4 one ({@code ::11}). */
  public static String nodeIp6(int i) {
    return UNDERLAY6_PREFIX + (10 + i);
  }

  public static String nodeIp6(String node) {
    return nodeIp6(nodeIndex(node));
  }

  private static int nodeIndex(String node) {
    return Integer.parseInt(node.substring(node.lastIndexOf('-') + 1));
  }

  /** Whether the lab's underlay carries IPv6 as well as IPv4. */
  public static boolean dualStackUnderlay(IpFamilies families) {
    return families != IpFamilies.IPV4;
  }

  /**
   * What brings a node's underlay link back after it went down: the link, its IPv6 address (IPv6
   * addresses go with a link that goes down, as a machine's would, and its network configuration
   * puts them back) and a default route per family; {@code ip -batch} lines.
   */
  public static List<String> linkBackUp(String node, IpFamilies families) {
    List<String> lines =
        new ArrayList<>(List.of("link set eth0 up", "route replace default via " + ROUTER_IP));
    if (dualStackUnderlay(families)) {
      lines.add(
          "addr replace " + nodeIp6(node) + "/" + UNDERLAY6_PREFIX_LENGTH + " dev eth0 nodad");
      lines.add("route replace ::/0 via " + ROUTER_IP6);
    }
    return lines;
  }

  /** A node's underlay addresses, the cluster's primary family first (its InternalIPs). */
  public static List<String> nodeIps(String node, IpFamilies families) {
    return switch (families) {
      case IPV4 -> List.of(nodeIp(node));
      case IPV6 -> List.of(nodeIp6(node), nodeIp(node));
      case DUAL -> List.of(nodeIp(node), nodeIp6(node));
    };
  }

  /** The pod CIDRs of a lab of {@code families}, in its family order. */
  public static FamilyCidrs podCidrs(IpFamilies families) {
    return cidrs(families, POD_CIDR, POD_CIDR6);
  }

  /** The ClusterIP ranges of a lab of {@code families}, in its family order. */
  public static FamilyCidrs serviceCidrs(IpFamilies families) {
    return cidrs(families, SERVICE_CIDR, SERVICE_CIDR6);
  }

  private static FamilyCidrs cidrs(IpFamilies families, String v4, String v6) {
    return new FamilyCidrs(
        families.families().stream().map(f -> Cidr.parse(f == IpFamily.IPV4 ? v4 : v6)).toList());
  }

  /** The IPAM block size of a family's pool. */
  public static int blockSize(IpFamily family) {
    return family == IpFamily.IPV4 ? BLOCK_SIZE : BLOCK_SIZE6;
  }

  /** Where each agent serves its metrics on its node's address (felix's Prometheus port). */
  public static final int METRICS_PORT = 9091;

  /** Where the lab's Prometheus (lab up --monitoring) listens, on the router's address. */
  public static final int PROMETHEUS_PORT = 9090;

  /** etcd member {@code i} (from 1): its namespace, its underlay address, its data. */
  public String etcdNs(int i) {
    return prefix() + "etcd-" + i;
  }

  public static String etcdMemberName(int i) {
    return "etcd-" + i;
  }

  public static String etcdIp(int i) {
    return UNDERLAY_PREFIX + (240 + i);
  }

  public Path etcdDataDir(int i) {
    return dir.resolve("etcd").resolve(etcdMemberName(i));
  }

  public Path storeDir() {
    return dir.resolve("store");
  }

  public Path stateFile() {
    return dir.resolve("state.json");
  }

  public Path cniBinDir() {
    return dir.resolve("bin");
  }

  public Path logDir() {
    return dir.resolve("logs");
  }

  public Path agentSocket(String node) {
    return dir.resolve("nodes").resolve(node).resolve("agent.sock");
  }
}
