package dev.tweed.model;

import java.util.Optional;

/**
 * Where a resource lives in a datastore: {@code kind/name} for cluster-scoped kinds and {@code
 * kind/namespace/name} for namespaced ones, so that a kind or a namespace is a key prefix.
 */
public record ResourceKey(String kind, Optional<String> namespace, String name) {
  public static ResourceKey cluster(String kind, String name) {
    return new ResourceKey(kind, Optional.empty(), name);
  }

  public static ResourceKey namespaced(String kind, String namespace, String name) {
    return new ResourceKey(kind, Optional.of(namespace), name);
  }

  public static ResourceKey parse(String key) {
    String[] p = key.split("/", -1);
    return switch (p.length) {
      case 2 -> cluster(p[0], p[1]);
      case 3 -> namespaced(p[0], p[1], p[2]);
      default -> throw new IllegalArgumentException("not a resource key: " + key);
    };
  }

  public static String kindPrefix(String kind) {
    return kind + "/";
  }

  /** The display name used by kubectl: {@code namespace/name} or {@code name}. */
  public String qualifiedName() {
    return namespace.map(ns -> ns + "/" + name).orElse(name);
  }

  @Override
  public String toString() {
    return kind + "/" + qualifiedName();
  }
}
