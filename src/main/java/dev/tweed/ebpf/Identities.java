package dev.tweed.ebpf;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Security identities as Cilium numbers them: reserved ones below 256, one for each distinct set of
 * a pod's labels and its namespace's (allocated cluster-wide in the datastore, so every node
 * agrees), and node-local ones from 2^24 for the CIDRs that policies name.
 */
public final class Identities {
  public static final int HOST = 1;
  public static final int WORLD = 2;
  public static final int REMOTE_NODE = 6;
  public static final int FIRST_CLUSTER = 256;
  public static final int LAST_CLUSTER = 65535;
  public static final int FIRST_LOCAL = 1 << 24;

  public static final Map<Integer, List<String>> RESERVED =
      Map.of(
          HOST, List.of("reserved:host"),
          WORLD, List.of("reserved:world"),
          REMOTE_NODE, List.of("reserved:remote-node"));

  private Identities() {}

  /**
   * The labels an identity stands for: the pod's own, its namespace's name, and its namespace's
   * labels, sorted.
   */
  public static List<String> labels(
      String namespace, Map<String, String> podLabels, Map<String, String> namespaceLabels) {
    TreeSet<String> out = new TreeSet<>();
    podLabels.forEach((k, v) -> out.add("k8s:" + k + "=" + v));
    out.add("k8s:io.kubernetes.pod.namespace=" + namespace);
    namespaceLabels.forEach((k, v) -> out.add("k8s:io.cilium.k8s.namespace.labels." + k + "=" + v));
    return new ArrayList<>(out);
  }

  /** The labels of a CIDR's node-local identity. */
  public static List<String> cidrLabels(String cidr) {
    return List.of("cidr:" + cidr);
  }
}
