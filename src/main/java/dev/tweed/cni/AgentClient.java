package dev.tweed.cni;

import dev.tweed.sys.NetnsFd;
import dev.tweed.sys.UnixSocket;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;

/** The Java side of a call to the agent socket: the Java shim, the lab and health checks use it. */
public final class AgentClient {
  private AgentClient() {}

  public static CniPlugin.Response call(Path socket, Map<String, String> env, byte[] stdin)
      throws IOException {
    return call(socket, env, stdin, Optional.empty());
  }

  /** A call that passes {@code netns} as an open descriptor, as the native shim does. */
  public static CniPlugin.Response call(
      Path socket, Map<String, String> env, byte[] stdin, Optional<NetnsFd> netns)
      throws IOException {
    try (UnixSocket c = UnixSocket.connect(socket)) {
      c.send(
          AgentSocketProtocol.encodeRequest(env, stdin),
          netns.map(n -> OptionalInt.of(n.fd())).orElse(OptionalInt.empty()));
      c.shutdownOutput();
      return AgentSocketProtocol.decodeResponse(c.receiveAll().data());
    } catch (RuntimeException e) {
      throw new IOException(e.getMessage(), e);
    }
  }

  public static String health(Path socket) throws IOException {
    CniPlugin.Response r = call(socket, Map.of("TWEED_OP", "health"), new byte[0]);
    return r.stdout();
  }
}
