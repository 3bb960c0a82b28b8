package dev.tweed.policy;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * A Kubernetes label selector: every matchLabels pair and every matchExpressions requirement must
 * hold. The empty selector matches everything.
 */
public record LabelSelector(Map<String, String> matchLabels, List<Requirement> expressions) {
  private static final Set<String> OPERATORS = Set.of("In", "NotIn", "Exists", "DoesNotExist");

  /** One matchExpressions entry. */
  public record Requirement(String key, String operator, List<String> values) {
    public Requirement {
      values = List.copyOf(values);
    }

    boolean matches(Map<String, String> labels) {
      String v = labels.get(key);
      return switch (operator) {
        case "In" -> v != null && values.contains(v);
        case "NotIn" -> v == null || !values.contains(v);
        case "Exists" -> v != null;
        case "DoesNotExist" -> v == null;
        default -> throw new IllegalStateException("validated operator " + operator);
      };
    }
  }

  public LabelSelector {
    matchLabels = new TreeMap<>(matchLabels);
    expressions = List.copyOf(expressions);
  }

  public static LabelSelector everything() {
    return new LabelSelector(Map.of(), List.of());
  }

  public boolean isEmpty() {
    return matchLabels.isEmpty() && expressions.isEmpty();
  }

  public boolean matches(Map<String, String> labels) {
    for (var e : matchLabels.entrySet()) {
      if (!e.getValue().equals(labels.get(e.getKey()))) {
        return false;
      }
    }
    return expressions.stream().allMatch(r -> r.matches(labels));
  }

  /** Parses and validates a selector as the API server does. */
  public static LabelSelector parse(JsonNode n, String field) throws InvalidPolicyException {
    if (n.isMissingNode() || n.isNull()) {
      return everything();
    }
    if (!n.isObject()) {
      throw new InvalidPolicyException(field, "must be a label selector");
    }
    Map<String, String> labels = new TreeMap<>();
    for (var e : n.path("matchLabels").properties()) {
      if (!e.getValue().isTextual()) {
        throw new InvalidPolicyException(field + ".matchLabels." + e.getKey(), "must be a string");
      }
      labels.put(e.getKey(), e.getValue().asText());
    }
    List<Requirement> reqs = new ArrayList<>();
    JsonNode exprs = n.path("matchExpressions");
    for (int i = 0; i < exprs.size(); i++) {
      JsonNode x = exprs.get(i);
      String f = field + ".matchExpressions[" + i + "]";
      String key = x.path("key").asText("");
      String op = x.path("operator").asText("");
      if (key.isEmpty()) {
        throw new InvalidPolicyException(f + ".key", "is required");
      }
      if (!OPERATORS.contains(op)) {
        throw new InvalidPolicyException(
            f + ".operator",
            "'" + op + "' is not a valid selector operator (In, NotIn, Exists, DoesNotExist)");
      }
      List<String> values = new ArrayList<>();
      x.path("values").forEach(v -> values.add(v.asText()));
      boolean needsValues = op.equals("In") || op.equals("NotIn");
      if (needsValues && values.isEmpty()) {
        throw new InvalidPolicyException(f + ".values", "must be non-empty when operator is " + op);
      }
      if (!needsValues && !values.isEmpty()) {
        throw new InvalidPolicyException(f + ".values", "must be empty when operator is " + op);
      }
      reqs.add(new Requirement(key, op, values));
    }
    return new LabelSelector(labels, reqs);
  }

  @Override
  public String toString() {
    List<String> parts = new ArrayList<>();
    matchLabels.forEach((k, v) -> parts.add(k + "=" + v));
    for (Requirement r : expressions) {
      parts.add(
          switch (r.operator()) {
            case "In" -> r.key() + " in (" + String.join(",", r.values()) + ")";
            case "NotIn" -> r.key() + " notin (" + String.join(",", r.values()) + ")";
            case "Exists" -> r.key();
            default -> "!" + r.key();
          });
    }
    return parts.isEmpty() ? "{}" : String.join(",", parts);
  }
}
