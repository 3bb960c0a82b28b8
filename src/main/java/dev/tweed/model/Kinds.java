package dev.tweed.model;

/**
 * The names of the kinds that have no record of their own here (yet): Kubernetes' own, and Tweed's
 * security identities. Every layer names a kind through this class or a record's {@code KIND}, so
 * that no lower layer has to reach up to the one that interprets it.
 */
public final class Kinds {
  private Kinds() {}

  public static final String SERVICE = "Service";
  public static final String ENDPOINT_SLICE = "EndpointSlice";
  public static final String NAMESPACE = "Namespace";
  public static final String NETWORK_POLICY = "NetworkPolicy";

  /** A numeric identity for a set of labels, allocated cluster-wide (the eBPF datapath's). */
  public static final String SECURITY_IDENTITY = "SecurityIdentity";
}
