package dev.tweed.cni;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.Map;

/** The Java side of a call to the agent socket: the Java shim, the lab and health checks use it. */
public final class AgentClient {
  private AgentClient() {}

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

  public static String health(Path socket) throws IOException {
    CniPlugin.Response r = call(socket, Map.of("TWEED_OP", "health"), new byte[0]);
    return r.stdout();
  }
}
