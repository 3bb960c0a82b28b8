package dev.tweed.policy;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What policy needs of a pod: where it lives, its labels, its address, its named container ports,
 * and, for a pod on this node, the host side of its veth.
 */
public record PolicyPod(
    String namespace,
    String name,
    Map<String, String> labels,
    Optional<String> ip,
    Optional<String> node,
    List<NamedPort> ports,
    Optional<String> hostInterface) {

  /** A declared container port. */
  public record NamedPort(String name, int port, String protocol) {}

  public PolicyPod {
    labels = Map.copyOf(labels);
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
