package dev.tweed.cni;

import dev.tweed.sys.NetnsFd;
import dev.tweed.sys.UnixSocket;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;

/** The Java side of a call to the agent socket: the Java shim, the lab and health checks use it. */
public final class AgentClient {
  private AgentClient() {}

  /**
   * A call that passes no descriptor, over the JDK's own channels: health checks and CLI commands
   * start no native linker, which would cost them a tenth of a second.
   */
  public static CniPlugin.Response call(Path socket, Map<String, String> env, byte[] stdin)
      throws IOException {
    try (SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      c.connect(UnixDomainSocketAddress.of(socket));
      ByteBuffer req = ByteBuffer.wrap(AgentSocketProtocol.encodeRequest(env, stdin));
      while (req.hasRemaining()) {
        c.write(req);
      }
      c.shutdownOutput();
      return AgentSocketProtocol.decodeResponse(Channels.newInputStream(c).readAllBytes());
    }
  }

  /** A call that passes {@code netns} as an open descriptor, as the native shim does. */
  public static CniPlugin.Response call(
      Path socket, Map<String, String> env, byte[] stdin, Optional<NetnsFd> netns)
      throws IOException {
    if (netns.isEmpty()) {
      return call(socket, env, stdin);
    }
    try (UnixSocket c = UnixSocket.connect(socket)) {
      c.send(AgentSocketProtocol.encodeRequest(env, stdin), OptionalInt.of(netns.get().fd()));
      c.shutdownOutput();
      return AgentSocketProtocol.decodeResponse(c.receiveAll().data());
    } catch (RuntimeException e) {
      throw new IOException(e.getMessage(), e);
    }
  }

  /**
   * The flows the agent recorded after number {@code since} (JSON: {@code flows}, {@code next},
   * {@code overwritten}, {@code capacity}; or {@code error} where the datapath records none).
   */
  public static String flows(Path socket, long since) throws IOException {
    return call(
            socket, Map.of("TWEED_OP", "flows", "TWEED_SINCE", String.valueOf(since)), new byte[0])
        .stdout();
  }

  public static String health(Path socket) throws IOException {
    CniPlugin.Response r = call(socket, Map.of("TWEED_OP", "health"), new byte[0]);
    return r.stdout();
  }
}
