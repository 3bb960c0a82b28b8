package dev.tweed.ebpf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tweed.datastore.ConflictException;
import dev.tweed.datastore.Datastore;
import dev.tweed.model.Json;
import dev.tweed.model.Kinds;
import dev.tweed.model.ResourceKey;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;

/**
 * Allocates cluster-wide identities in the datastore (a {@code SecurityIdentity} per label set,
 * named by its number). Creating the number's key is the claim: the store refuses a second
 * creation, so two agents never give one number two meanings. Two agents may give one label set two
 * numbers at the same moment; everyone then uses the lowest, so all nodes still agree.
 */
public final class IdentityAllocator {
  public static final String KIND = Kinds.SECURITY_IDENTITY;

  private final Datastore store;

  public IdentityAllocator(Datastore store) {
    this.store = store;
  }

  public static ResourceKey key(int id) {
    return ResourceKey.cluster(KIND, String.valueOf(id));
  }

  public static ObjectNode toJson(int id, List<String> labels) {
    ObjectNode n = Json.object();
    n.put("apiVersion", "tweed.dev/v1");
    n.put("kind", KIND);
    n.putObject("metadata").put("name", String.valueOf(id));
    var arr = n.putObject("spec").putArray("labels");
    labels.forEach(arr::add);
    return n;
  }

  /** The identities the given objects define: label set to its lowest number. */
  public static Map<List<String>, Integer> read(Collection<JsonNode> identities) {
    Map<List<String>, Integer> out = new HashMap<>();
    for (JsonNode n : identities) {
      number(n).ifPresent(id -> out.merge(labels(n), id, Math::min));
    }
    return out;
  }

  /** An identity object's number, empty when its name is not one. */
  static Optional<Integer> number(JsonNode identity) {
    try {
      return Optional.of(Integer.parseInt(identity.path("metadata").path("name").asText()));
    } catch (NumberFormatException e) {
      return Optional.empty();
    }
  }

  /** An identity object's label set. */
  static List<String> labels(JsonNode identity) {
    List<String> labels = new ArrayList<>();
    identity.path("spec").path("labels").forEach(l -> labels.add(l.asText()));
    return labels;
  }

  /**
   * Makes sure every label set in {@code wanted} has an identity; {@code known} is what the caller
   * has seen of the store. Returns the identities, known and new.
   */
  public Map<List<String>, Integer> ensure(
      Collection<List<String>> wanted, Map<List<String>, Integer> known) {
    Map<List<String>, Integer> out = new HashMap<>(known);
    TreeSet<Integer> taken = new TreeSet<>(known.values());
    int next = Identities.FIRST_CLUSTER;
    List<List<String>> inOrder =
        wanted.stream()
            .distinct()
            .sorted(Comparator.comparing((List<String> l) -> String.join(",", l)))
            .toList();
    for (List<String> labels : inOrder) {
      if (out.containsKey(labels)) {
        continue;
      }
      while (true) {
        while (taken.contains(next)) {
          next++;
        }
        if (next > Identities.LAST_CLUSTER) {
          throw new IllegalStateException("no free identity for " + labels);
        }
        try {
          store.put(key(next).toString(), toJson(next, labels), Datastore.ABSENT);
          out.put(labels, next);
          taken.add(next);
          break;
        } catch (ConflictException e) {
          // Another agent claimed this number; what it means arrives through the watch.
          taken.add(next);
        }
      }
    }
    return out;
  }
}
