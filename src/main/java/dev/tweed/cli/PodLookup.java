package dev.tweed.cli;

import dev.tweed.datastore.Datastore;
import dev.tweed.datastore.Entry;
import dev.tweed.lab.Lab;
import dev.tweed.model.NodeResource;
import dev.tweed.model.PodResource;
import dev.tweed.model.ResourceKey;

/** Resolves the names users type ({@code NS/POD}, {@code node-2}) to namespaces and addresses. */
final class PodLookup {
  private PodLookup() {}

  static PodResource pod(Datastore store, String ref) {
    int slash = ref.indexOf('/');
    if (slash <= 0) {
      throw new IllegalArgumentException("expected NAMESPACE/POD, got '" + ref + "'");
    }
    String key =
        ResourceKey.namespaced(PodResource.KIND, ref.substring(0, slash), ref.substring(slash + 1))
            .toString();
    Entry e =
        store.get(key).orElseThrow(() -> new IllegalArgumentException("pod " + ref + " not found"));
    PodResource p = PodResource.from(e.value());
    if (!"Running".equals(p.phase()) || p.podIp().isEmpty()) {
      throw new IllegalStateException("pod " + ref + " is not running (" + p.phase() + ")");
    }
    return p;
  }

  static String netnsOf(Lab lab, Datastore store, String ref) {
    PodResource p = pod(store, ref);
    return lab.layout().netnsOf(p);
  }

  static String ipOf(Datastore store, String ref) {
    return pod(store, ref).podIp().orElseThrow();
  }

  static void requireNode(Lab lab, String node) {
    try (Datastore store = LabCommand.store(lab)) {
      if (store.get(ResourceKey.cluster(NodeResource.KIND, node).toString()).isEmpty()) {
        throw new IllegalArgumentException("node '" + node + "' does not exist");
      }
    }
  }
}
