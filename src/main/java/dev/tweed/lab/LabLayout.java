package dev.tweed.lab;

import dev.tweed.model.PodResource;
import java.nio.file.Path;

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
    return nodeIp(Integer.parseInt(node.substring(node.lastIndexOf('-') + 1)));
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
