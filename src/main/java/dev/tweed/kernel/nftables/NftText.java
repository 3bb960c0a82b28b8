package dev.tweed.kernel.nftables;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Renders the JSON form of rules back into nft's own syntax (close to what {@code nft list}
 * prints), so that a trace names a rule the way a person reads it. Expressions it does not know are
 * shown as their JSON.
 */
public final class NftText {
  private NftText() {}

  public static String rule(List<JsonNode> expr) {
    List<String> parts = new ArrayList<>();
    for (JsonNode e : expr) {
      parts.add(statement(e));
    }
    return String.join(" ", parts);
  }

  static String statement(JsonNode s) {
    Map.Entry<String, JsonNode> e = only(s);
    if (e == null) {
      return s.toString();
    }
    JsonNode v = e.getValue();
    return switch (e.getKey()) {
      case "match" -> {
        String op = v.path("op").asText("==");
        String left = expr(v.path("left"));
        String right = expr(v.path("right"));
        yield op.equals("==") || op.equals("in")
            ? left + " " + right
            : left + " " + op + " " + right;
      }
      case "counter" -> "counter";
      case "accept", "drop", "return", "continue" -> e.getKey();
      case "jump", "goto" -> e.getKey() + " " + v.path("target").asText();
      case "reject" ->
          v.isNull() || v.isMissingNode()
              ? "reject"
              : "reject with " + v.path("type").asText() + " " + v.path("expr").asText();
      case "dnat", "snat" ->
          e.getKey()
              + " to "
              + (v.has("port") && v.path("addr").asText().contains(":")
                  ? "[" + v.path("addr").asText() + "]" // an IPv6 address before its port
                  : v.path("addr").asText())
              + (v.has("port") ? ":" + v.path("port").asText() : "");
      case "masquerade", "redirect" ->
          e.getKey()
              + (v.has("port") ? " to :" + v.path("port").asText() : "")
              + (v.has("flags") ? " " + flags(v.path("flags")) : "");
      case "mangle" -> expr(v.path("key")) + " set " + expr(v.path("value"));
      case "vmap" -> expr(v.path("key")) + " vmap " + expr(v.path("data"));
      case "set" ->
          v.path("op").asText()
              + " "
              + v.path("set").asText()
              + " { "
              + expr(v.path("elem"))
              + " }";
      case "log" -> "log";
      case "notrack" -> "notrack";
      default -> s.toString();
    };
  }

  private static String flags(JsonNode f) {
    if (f.isArray()) {
      List<String> out = new ArrayList<>();
      f.forEach(x -> out.add(x.asText()));
      return String.join(",", out);
    }
    return f.asText();
  }

  static String expr(JsonNode x) {
    if (x.isTextual() || x.isNumber()) {
      return x.asText();
    }
    if (x.isArray()) {
      List<String> out = new ArrayList<>();
      x.forEach(i -> out.add(expr(i)));
      return "{ " + String.join(", ", out) + " }";
    }
    Map.Entry<String, JsonNode> e = only(x);
    if (e == null) {
      return x.toString();
    }
    JsonNode v = e.getValue();
    return switch (e.getKey()) {
      case "payload" -> v.path("protocol").asText() + " " + v.path("field").asText();
      case "meta" -> {
        String k = v.path("key").asText();
        yield k.equals("iifname") || k.equals("oifname") || k.equals("mark") ? k : "meta " + k;
      }
      case "ct" -> "ct " + v.path("key").asText();
      case "fib" ->
          "fib " + flags(v.path("flags")).replace(",", " . ") + " " + v.path("result").asText();
      case "concat" -> {
        List<String> out = new ArrayList<>();
        v.forEach(i -> out.add(expr(i)));
        yield String.join(" . ", out);
      }
      case "prefix" -> v.path("addr").asText() + "/" + v.path("len").asText();
      case "range" -> expr(v.get(0)) + "-" + expr(v.get(1));
      case "set" -> {
        List<String> out = new ArrayList<>();
        for (JsonNode i : v.isArray() ? v : List.of(v)) {
          out.add(i.isArray() && i.size() == 2 ? expr(i.get(0)) + " : " + expr(i.get(1)) : expr(i));
        }
        yield "{ " + String.join(", ", out) + " }";
      }
      case "elem" -> expr(v.path("val"));
      case "numgen" -> "numgen " + v.path("mode").asText() + " mod " + v.path("mod").asText();
      case "&", "|", "^", "<<", ">>" -> expr(v.get(0)) + " " + e.getKey() + " " + expr(v.get(1));
      case "jump", "goto" -> e.getKey() + " " + v.path("target").asText();
      case "accept", "drop", "return", "continue" -> e.getKey();
      default -> x.toString();
    };
  }

  /** The single field of a one-field object, the shape of every nft JSON expression. */
  static Map.Entry<String, JsonNode> only(JsonNode o) {
    if (!o.isObject() || o.size() != 1) {
      return null;
    }
    Iterator<Map.Entry<String, JsonNode>> it = o.fields();
    return it.next();
  }
}
