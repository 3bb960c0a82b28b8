package dev.tweed.lab.web;

import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.tweed.lab.service.LabNotFoundException;
import dev.tweed.lab.service.LabService;
import dev.tweed.model.Json;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves the web view of one lab on the loopback address only: the page's files and the JSON API.
 * It answers only requests addressed to the loopback by name or number (a page elsewhere cannot
 * rebind a name to it), and changes resources only for requests that declare a YAML or JSON body,
 * which a page of another origin cannot send without asking first.
 */
public final class LabWebServer implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(LabWebServer.class);
  private static final String SECURITY_POLICY =
      "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'";
  private final HttpServer server;
  private final ExecutorService threads;
  private final LabApi api;

  private LabWebServer(HttpServer server, ExecutorService threads, LabApi api) {
    this.server = server;
    this.threads = threads;
    this.api = api;
  }

  /** Starts serving {@code lab} on 127.0.0.1:{@code port} (0: any free port). */
  public static LabWebServer start(LabService lab, int port) throws IOException {
    HttpServer server =
        HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 64);
    ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor();
    LabWebServer web = new LabWebServer(server, threads, new LabApi(lab));
    server.setExecutor(threads);
    server.createContext("/", web::serve);
    server.start();
    LOG.info("event=web-started address={}", web.address());
    return web;
  }

  /** The page's address, {@code http://127.0.0.1:PORT/}. */
  public String address() {
    return "http://127.0.0.1:" + server.getAddress().getPort() + "/";
  }

  public int port() {
    return server.getAddress().getPort();
  }

  private void serve(HttpExchange ex) {
    try (ex) {
      String path = ex.getRequestURI().getPath();
      if (!loopbackHost(ex.getRequestHeaders().getFirst("Host"))) {
        send(ex, 421, error(421, "this server answers only http://127.0.0.1:" + port() + "/"));
        return;
      }
      if (path.startsWith("/api/")) {
        serveApi(ex, path.substring("/api/".length()));
        return;
      }
      Optional<WebAssets.Asset> asset = WebAssets.find(path);
      if (asset.isEmpty() || !ex.getRequestMethod().equals("GET")) {
        send(ex, 404, error(404, "no page " + path));
        return;
      }
      ex.getResponseHeaders().set("Content-Type", asset.get().contentType());
      ex.getResponseHeaders().set("Content-Security-Policy", SECURITY_POLICY);
      ex.getResponseHeaders().set("Cache-Control", "no-cache");
      write(ex, 200, asset.get().bytes());
    } catch (IOException | UncheckedIOException e) {
      LOG.debug("event=web-send-failed error={}", e.toString());
    }
  }

  private boolean loopbackHost(String host) {
    if (host == null) {
      return false;
    }
    int port = port();
    return host.equals("127.0.0.1:" + port) || host.equals("localhost:" + port);
  }

  private void serveApi(HttpExchange ex, String rest) throws IOException {
    long start = System.nanoTime();
    String method = ex.getRequestMethod();
    int status;
    try {
      if (method.equals("POST")) {
        requireDeclaredBody(ex);
      }
      List<String> parts = Arrays.stream(rest.split("/")).filter(s -> !s.isEmpty()).toList();
      LabApi.Answer a =
          api.handle(
              method, parts, Query.of(ex.getRequestURI()), ex.getRequestBody().readAllBytes());
      status = a.status();
      send(ex, status, a.body());
    } catch (HttpError e) {
      status = e.status();
      send(ex, status, error(status, e.getMessage()));
    } catch (LabNotFoundException e) {
      status = 404;
      send(ex, status, error(status, e.getMessage()));
    } catch (IllegalArgumentException e) {
      status = 400;
      send(ex, status, error(status, e.getMessage()));
    } catch (IllegalStateException e) {
      status = 409;
      send(ex, status, error(status, e.getMessage()));
    } catch (Exception e) {
      // The user sees what failed, not a stack trace; the log keeps the trace.
      status = 500;
      LOG.warn("event=web-api-failed path=/api/{}", rest, e);
      send(ex, status, error(status, String.valueOf(e.getMessage())));
    }
    LOG.info(
        "event=web-api method={} path=/api/{} status={} ms={}",
        method,
        rest,
        status,
        (System.nanoTime() - start) / 1_000_000);
  }

  private static void requireDeclaredBody(HttpExchange ex) {
    String type = Optional.ofNullable(ex.getRequestHeaders().getFirst("Content-Type")).orElse("");
    String base = type.split(";")[0].strip();
    if (!List.of("application/yaml", "application/json", "application/x-yaml", "text/yaml")
        .contains(base)) {
      throw new HttpError(415, "send the resources as application/yaml or application/json");
    }
  }

  private static ObjectNode error(int status, String message) {
    ObjectNode o = Json.object();
    o.put("error", message);
    o.put("status", status);
    return o;
  }

  private static void send(HttpExchange ex, int status, Object body) throws IOException {
    ex.getResponseHeaders().set("Content-Type", "application/json");
    write(ex, status, (Json.write(body) + "\n").getBytes(StandardCharsets.UTF_8));
  }

  private static void write(HttpExchange ex, int status, byte[] bytes) throws IOException {
    ex.sendResponseHeaders(status, bytes.length);
    try (OutputStream out = ex.getResponseBody()) {
      out.write(bytes);
    }
  }

  @Override
  public void close() {
    server.stop(0);
    threads.shutdownNow();
  }
}
