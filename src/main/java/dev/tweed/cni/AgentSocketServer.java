package dev.tweed.cni;

import dev.tweed.model.Json;
import dev.tweed.sys.NetnsFd;
import dev.tweed.sys.UnixSocket;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's end of the local socket. The shim may pass the runtime's network namespace as an open
 * descriptor with its request; the call is then carried out on that descriptor, never on the {@code
 * CNI_NETNS} path, which names a mount the agent may not see. Calls block in native code, so each
 * is served on a platform thread of its own.
 */
public final class AgentSocketServer implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(AgentSocketServer.class);
  private final UnixSocket server;
  private volatile boolean open = true;

  public AgentSocketServer(
      Path socket, CniPlugin plugin, Function<Map<String, String>, String> operations) {
    try {
      Files.createDirectories(socket.getParent());
      Files.deleteIfExists(socket);
      server = UnixSocket.listen(socket, 1024);
      Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-------"));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot listen on " + socket, e);
    }
    Thread.ofPlatform()
        .daemon()
        .name("cni-accept")
        .start(
            () -> {
              while (open) {
                try {
                  UnixSocket c = server.accept();
                  Thread.ofPlatform()
                      .daemon()
                      .name("cni-call")
                      .start(() -> serve(c, plugin, operations));
                } catch (RuntimeException e) {
                  if (open) {
                    LOG.warn("event=cni-accept-failed error=\"{}\"", e.toString());
                  }
                }
              }
            });
  }

  private static void serve(
      UnixSocket c, CniPlugin plugin, Function<Map<String, String>, String> operations) {
    try (c) {
      UnixSocket.Received received = c.receiveAll();
      CniPlugin.Response resp;
      try (NetnsFd ns = adopt(received.passedFd()).orElse(null)) {
        AgentSocketProtocol.Request req = AgentSocketProtocol.decodeRequest(received.data());
        resp =
            req.env().containsKey("TWEED_OP")
                ? new CniPlugin.Response(0, operations.apply(req.env()))
                : answer(plugin, req, Optional.ofNullable(ns));
      }
      c.send(
          AgentSocketProtocol.encodeResponse(resp.exitCode(), resp.stdout()), OptionalInt.empty());
    } catch (RuntimeException e) {
      LOG.warn("event=cni-connection-failed error=\"{}\"", e.toString());
    }
  }

  private static Optional<NetnsFd> adopt(OptionalInt fd) {
    return fd.isPresent() ? Optional.of(NetnsFd.adopt(fd.getAsInt())) : Optional.empty();
  }

  private static CniPlugin.Response answer(
      CniPlugin plugin, AgentSocketProtocol.Request req, Optional<NetnsFd> ns) {
    try {
      return plugin.handle(CniRequest.parse(req.env(), req.stdin()), ns);
    } catch (CniException e) {
      return new CniPlugin.Response(1, Json.write(e.toJson(CniVersions.LATEST)));
    } catch (RuntimeException e) {
      LOG.error("event=cni-internal-error", e);
      return new CniPlugin.Response(
          1,
          Json.write(
              new CniException(CniException.IO_FAILURE, "internal error: " + e.getMessage())
                  .toJson(CniVersions.LATEST)));
    }
  }

  @Override
  public void close() {
    open = false;
    server.shutdown();
    server.close();
  }
}
