package dev.tweed.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * A block of pod addresses affine to one node, with its allocations keyed by address index
 * (Calico's IPAM block). Index 0 is never handed out: it is the node's tunnel (VTEP) address in its
 * first block, and kept free in the others so that every block reads the same way.
 */
public record IpamBlock(Cidr cidr, String node, Map<Integer, Allocation> allocations) {
  public static final String KIND = "IPAMBlock";

  /** Who holds an address: the CNI attachment (handle) and, for people, the pod. */
  public record Allocation(String handle, String pod) {}

  public IpamBlock {
    allocations = Map.copyOf(allocations);
  }

  public static String nameOf(Cidr cidr) {
    return cidr.toString().replace('.', '-').replace(':', '-').replace('/', '-');
  }

  public ResourceKey key() {
    return ResourceKey.cluster(KIND, nameOf(cidr));
  }

  public Optional<Integer> firstFree() {
    for (int i = 1; i < cidr.size(); i++) {
      if (!allocations.containsKey(i)) {
        return Optional.of(i);
      }
    }
    return Optional.empty();
  }

  public Optional<Integer> indexOfHandle(String handle) {
    return allocations.entrySet().stream()
        .filter(e -> e.getValue().handle().equals(handle))
        .map(Map.Entry::getKey)
        .findFirst();
  }

  public IpamBlock with(int index, Allocation a) {
    TreeMap<Integer, Allocation> m = new TreeMap<>(allocations);
    m.put(index, a);
    return new IpamBlock(cidr, node, m);
  }

  public IpamBlock without(int index) {
    TreeMap<Integer, Allocation> m = new TreeMap<>(allocations);
    m.remove(index);
    return new IpamBlock(cidr, node, m);
  }

  public static IpamBlock from(JsonNode n) {
    Cidr cidr = Cidr.parse(n.path("spec").path("cidr").asText());
    TreeMap<Integer, Allocation> m = new TreeMap<>();
    n.path("status")
        .path("allocations")
        .properties()
        .forEach(
            e ->
                m.put(
                    (int) IpAddress.parse(e.getKey()).minus(cidr.base()),
                    new Allocation(
                        e.getValue().path("handle").asText(), e.getValue().path("pod").asText())));
    return new IpamBlock(cidr, n.path("spec").path("node").asText(), m);
  }

  public ObjectNode toJson() {
    ObjectNode n = Json.object();
    n.put("apiVersion", "tweed.dev/v1");
    n.put("kind", KIND);
    n.putObject("metadata").put("name", nameOf(cidr));
    n.putObject("spec").put("cidr", cidr.toString()).put("node", node);
    ObjectNode allocs = n.putObject("status").putObject("allocations");
    new TreeMap<>(allocations)
        .forEach(
            (i, a) ->
                allocs
                    .putObject(cidr.address(i).toString())
                    .put("handle", a.handle())
                    .put("pod", a.pod()));
    return n;
  }
}
