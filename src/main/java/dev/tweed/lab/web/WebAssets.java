package dev.tweed.lab.web;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The page's files, served from the jar's {@code web/} directory. Every view's address ({@code
 * /topology}, {@code /journey?...}) answers the same {@code index.html}, whose script draws the
 * view the address names, so that a view can be linked and bookmarked.
 */
final class WebAssets {
  static final Set<String> VIEWS = Set.of("/", "/topology", "/flows", "/reachability", "/journey");
  private static final Map<String, String> TYPES =
      Map.of(
          "html", "text/html; charset=utf-8",
          "js", "text/javascript; charset=utf-8",
          "css", "text/css; charset=utf-8",
          "svg", "image/svg+xml",
          "png", "image/png",
          "ico", "image/x-icon");

  /** A file to send: its bytes and content type. */
  record Asset(byte[] bytes, String contentType) {}

  private WebAssets() {}

  static Optional<Asset> find(String path) {
    String file = VIEWS.contains(path) ? "index.html" : path.substring(1);
    // Only plain names below web/: nothing can climb out of it.
    if (!file.matches("[a-z0-9][a-z0-9_-]*(/[a-z0-9][a-z0-9_-]*)*\\.[a-z]+")) {
      return Optional.empty();
    }
    String ext = file.substring(file.lastIndexOf('.') + 1);
    if (!TYPES.containsKey(ext)) {
      return Optional.empty();
    }
    try (InputStream in = WebAssets.class.getResourceAsStream("/web/" + file)) {
      if (in == null) {
        return Optional.empty();
      }
      return Optional.of(new Asset(in.readAllBytes(), TYPES.get(ext)));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
