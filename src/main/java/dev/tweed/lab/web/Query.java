package dev.tweed.lab.web;

import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/** The parameters of a request's query string, read with the types the API wants. */
record Query(Map<String, String> params) {
  static Query of(URI uri) {
    Map<String, String> out = new LinkedHashMap<>();
    String raw = uri.getRawQuery();
    if (raw != null && !raw.isEmpty()) {
      for (String pair : raw.split("&")) {
        int eq = pair.indexOf('=');
        String k = decode(eq < 0 ? pair : pair.substring(0, eq));
        String v = eq < 0 ? "" : decode(pair.substring(eq + 1));
        out.put(k, v);
      }
    }
    return new Query(Map.copyOf(out));
  }

  private static String decode(String s) {
    return URLDecoder.decode(s, StandardCharsets.UTF_8);
  }

  Optional<String> get(String name) {
    return Optional.ofNullable(params.get(name)).filter(v -> !v.isEmpty());
  }

  String require(String name) {
    return get(name).orElseThrow(() -> new HttpError(400, "missing parameter '" + name + "'"));
  }

  int integer(String name, int otherwise) {
    Optional<String> v = get(name);
    if (v.isEmpty()) {
      return otherwise;
    }
    try {
      return Integer.parseInt(v.get());
    } catch (NumberFormatException e) {
      throw new HttpError(400, "parameter '" + name + "' must be a number, got '" + v.get() + "'");
    }
  }

  boolean flag(String name) {
    return get(name).map(v -> v.equals("true") || v.equals("1") || v.equals("on")).orElse(false);
  }
}
