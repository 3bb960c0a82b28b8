package dev.tweed.ebpf;

import dev.tweed.model.Cidr;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * What one node's datapath maps must hold, in words: its pods as endpoints, the IP cache (every
 * known address or CIDR with its identity and, for a pod on another node, the node behind it), the
 * per-endpoint policy entries, and the identities they name. Sorted, so equal inputs give equal
 * intents and golden files compare.
 */
public record EbpfIntent(
    List<Endpoint> endpoints,
    List<IpcacheEntry> ipcache,
    SortedMap<Integer, List<PolicyEntry>> policyByEndpoint,
    SortedMap<Integer, List<String>> identities) {
  public EbpfIntent {
    endpoints = endpoints.stream().sorted(Comparator.comparing(Endpoint::pod)).toList();
    ipcache =
        ipcache.stream()
            .map(e -> Map.entry(Cidr.parse(e.cidr()), e))
            .sorted(Map.Entry.comparingByKey())
            .map(Map.Entry::getValue)
            .toList();
    // Each endpoint's list is kept as given (sorted, and shared with the calculator's cache, so a
    // driver can tell an unchanged endpoint by reference).
    policyByEndpoint = Collections.unmodifiableSortedMap(new TreeMap<>(policyByEndpoint));
    identities = Collections.unmodifiableSortedMap(new TreeMap<>(identities));
  }

  /** Every policy entry, by endpoint, then in each endpoint's order. */
  public List<PolicyEntry> policy() {
    return policyByEndpoint.values().stream().flatMap(List::stream).toList();
  }

  public int policySize() {
    return policyByEndpoint.values().stream().mapToInt(List::size).sum();
  }

  /** A local pod: address, veth, MAC, endpoint id, identity, and which directions isolate it. */
  public record Endpoint(
      String ip,
      String pod,
      String hostInterface,
      String mac,
      int id,
      int identity,
      boolean ingressIsolated,
      boolean egressIsolated) {}

  /** An address or CIDR, its identity, and the node behind it ("" when not a remote pod). */
  public record IpcacheEntry(String cidr, int identity, String tunnelEndpoint) {}

  /** Traffic of endpoint {@code endpoint} in {@code direction} that the policy allows. */
  public record PolicyEntry(
      int endpoint,
      Direction direction,
      int identity,
      int protocol,
      int port,
      int portPrefixLength,
      String pod)
      implements Comparable<PolicyEntry> {
    private static final Comparator<PolicyEntry> ORDER =
        Comparator.comparingInt(PolicyEntry::endpoint)
            .thenComparing(PolicyEntry::direction)
            .thenComparingInt(PolicyEntry::identity)
            .thenComparingInt(PolicyEntry::protocol)
            .thenComparingInt(PolicyEntry::port)
            .thenComparingInt(PolicyEntry::portPrefixLength);

    @Override
    public int compareTo(PolicyEntry o) {
      return ORDER.compare(this, o);
    }

    /** The ports it covers, as "80", "8000-8007" or "any". */
    public String ports() {
      if (portPrefixLength == 0) {
        return "any";
      }
      int size = 1 << (16 - portPrefixLength);
      return size == 1 ? String.valueOf(port) : port + "-" + (port + size - 1);
    }
  }

  public enum Direction {
    INGRESS,
    EGRESS
  }

  public static EbpfIntent empty() {
    return new EbpfIntent(List.of(), List.of(), new TreeMap<>(), new TreeMap<>(Map.of()));
  }
}
