package dev.tweed.policy;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What policy needs of a pod: where it lives, its labels, its addresses (one per family, none
 * before it has any), its named container ports, and, for a pod on this node, the host side of its
 * veth.
 */
public record PolicyPod(
    String namespace,
    String name,
    Map<String, String> labels,
    List<String> ips,
    Optional<String> node,
    List<NamedPort> ports,
    Optional<String> hostInterface) {

  /** A pod with at most one address. */
  public PolicyPod(
      String namespace,
      String name,
      Map<String, String> labels,
      Optional<String> ip,
      Optional<String> node,
      List<NamedPort> ports,
      Optional<String> hostInterface) {
    this(namespace, name, labels, ip.stream().toList(), node, ports, hostInterface);
  }

  /** The primary address, if the pod has one yet. */
  public Optional<String> ip() {
    return ips.stream().findFirst();
  }

  /** A declared container port. */
  public record NamedPort(String name, int port, String protocol) {}

  public PolicyPod {
    labels = Map.copyOf(labels);
    ips = List.copyOf(ips);
    ports = List.copyOf(ports);
  }

  public String qualifiedName() {
    return namespace + "/" + name;
  }

  /** The number behind a named port of this protocol on this pod. */
  public Optional<Integer> resolve(String portName, String protocol) {
    return ports.stream()
        .filter(p -> p.name().equals(portName) && p.protocol().equals(protocol))
        .map(NamedPort::port)
        .findFirst();
  }
}
