package dev.tweed.cni;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The agent's end of the local socket: one virtual thread per call, as many as arrive. */
public final class AgentSocketServer implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(AgentSocketServer.class);
  private final ServerSocketChannel server;
  private final Thread acceptor;

  public AgentSocketServer(Path socket, CniPlugin plugin, Supplier<String> health) {
    try {
      Files.createDirectories(socket.getParent());
      Files.deleteIfExists(socket);
      server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
      server.bind(UnixDomainSocketAddress.of(socket), 1024);
      Files.setPosixFilePermissions(
          socket, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot listen on " + socket, e);
    }
    acceptor =
        Thread.ofPlatform()
            .daemon()
            .name("cni-accept")
            .start(
                () -> {
                  while (server.isOpen()) {
                    try {
                      SocketChannel c = server.accept();
                      Thread.startVirtualThread(() -> serve(c, plugin, health));
                    } catch (IOException e) {
                      if (server.isOpen()) {
                        LOG.warn("event=cni-accept-failed error=\"{}\"", e.toString());
                      }
                    }
                  }
                });
  }

  private static void serve(SocketChannel c, CniPlugin plugin, Supplier<String> health) {
    try (c) {
      byte[] data = Channels.newInputStream(c).readAllBytes();
      AgentSocketProtocol.Request req = AgentSocketProtocol.decodeRequest(data);
      CniPlugin.Response resp;
      if (req.env().containsKey("TWEED_OP")) {
        resp = new CniPlugin.Response(0, health.get());
      } else {
        try {
          resp = plugin.handle(CniRequest.parse(req.env(), req.stdin()));
        } catch (CniException e) {
          resp =
              new CniPlugin.Response(1, dev.tweed.model.Json.write(e.toJson(CniVersions.LATEST)));
        } catch (RuntimeException e) {
          LOG.error("event=cni-internal-error", e);
          resp =
              new CniPlugin.Response(
                  1,
                  dev.tweed.model.Json.write(
                      new CniException(CniException.IO_FAILURE, "internal error: " + e.getMessage())
                          .toJson(CniVersions.LATEST)));
        }
      }
      ByteBuffer out =
          ByteBuffer.wrap(AgentSocketProtocol.encodeResponse(resp.exitCode(), resp.stdout()));
      while (out.hasRemaining()) {
        c.write(out);
      }
    } catch (IOException e) {
      LOG.warn("event=cni-connection-failed error=\"{}\"", e.toString());
    }
  }

  @Override
  public void close() {
    try {
      server.close();
    } catch (IOException ignored) {
      // Shutting down.
    }
  }
}
