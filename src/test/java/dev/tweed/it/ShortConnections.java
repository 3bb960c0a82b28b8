package dev.tweed.it;

import dev.tweed.sys.NetworkNamespace;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/**
 * Short TCP connections from inside a pod, as a busy client makes them: connect, read the answer to
 * its end, close. The server closes first, so it is the server that keeps each connection's
 * TIME_WAIT, and the client's ports come round again while it does.
 */
final class ShortConnections {
  private ShortConnections() {}

  /** What a burst saw: connections that failed (refused, reset or timed out) and slow ones. */
  record Burst(int connections, int lost, int slowerThanHalfASecond, long elapsedMillis) {}

  /** {@code count} connections one after another from {@code from} to {@code ip:port}. */
  static Burst burst(Path from, String ip, int port, int count, Duration timeout) throws Exception {
    return NetworkNamespace.call(
        from,
        () -> {
          int lost = 0;
          int slow = 0;
          long start = System.nanoTime();
          byte[] sink = new byte[256];
          for (int i = 0; i < count; i++) {
            long t = System.nanoTime();
            try (Socket s = new Socket()) {
              s.connect(new InetSocketAddress(ip, port), (int) timeout.toMillis());
              s.setSoTimeout((int) timeout.toMillis());
              InputStream in = s.getInputStream();
              while (in.read(sink) >= 0) {
                // The answer, then the server's FIN.
              }
            } catch (IOException e) {
              lost++;
              continue;
            }
            if (System.nanoTime() - t > 500_000_000L) {
              slow++;
            }
          }
          return new Burst(count, lost, slow, (System.nanoTime() - start) / 1_000_000);
        });
  }

  /**
   * A server in a pod that reads {@code bytes} from each connection and then closes it first, so
   * the pod keeps the connection in TIME_WAIT: the other side of {@link #sendThenReconnect}.
   */
  static AutoCloseable readingServer(Path netns, int port, int bytes) throws Exception {
    ServerSocketChannel server =
        NetworkNamespace.call(
            netns,
            () -> {
              ServerSocketChannel s = ServerSocketChannel.open();
              s.setOption(StandardSocketOptions.SO_REUSEADDR, true);
              s.bind(new InetSocketAddress(port), 16);
              return s;
            });
    Thread.startVirtualThread(
        () -> {
          ByteBuffer b = ByteBuffer.allocate(1 << 20);
          while (server.isOpen()) {
            try (SocketChannel c = server.accept()) {
              long got = 0;
              while (got < bytes) {
                b.clear();
                int n = c.read(b);
                if (n < 0) {
                  break;
                }
                got += n;
              }
            } catch (IOException e) {
              // Closed at the end of the test, or the client went away.
            }
          }
        });
    return server::close;
  }

  /**
   * From one fixed local port: a connection that sends {@code bytes} and waits for the server to
   * close, then at once a new connection from the same port to the same address. The first
   * connection carried more bytes than the client's initial sequence number advances in the
   * meantime, so the new SYN falls below what the server's TIME_WAIT expects: the server answers
   * with the old connection's ACK, the client resets it, and the reset must reach the server
   * translated for the new connection to get through. Returns how long the second connect took, or
   * empty if it did not connect within {@code timeout}.
   */
  static Optional<Duration> sendThenReconnect(
      Path from, String ip, int port, int localPort, int bytes, Duration timeout) throws Exception {
    return NetworkNamespace.call(
        from,
        () -> {
          try (Socket s = boundTo(localPort)) {
            s.connect(new InetSocketAddress(ip, port), (int) timeout.toMillis());
            s.setSoTimeout((int) timeout.toMillis());
            OutputStream out = s.getOutputStream();
            byte[] chunk = new byte[1 << 16];
            for (int sent = 0; sent < bytes; sent += chunk.length) {
              out.write(chunk, 0, Math.min(chunk.length, bytes - sent));
            }
            if (s.getInputStream().read() >= 0) {
              throw new IllegalStateException("the server answered instead of closing");
            }
          }
          long t = System.nanoTime();
          try (Socket again = boundTo(localPort)) {
            again.connect(new InetSocketAddress(ip, port), (int) timeout.toMillis());
            return Optional.of(Duration.ofNanos(System.nanoTime() - t));
          } catch (SocketTimeoutException e) {
            return Optional.<Duration>empty();
          }
        });
  }

  /** Whether a TCP connection to {@code ip:port} is accepted within a second. */
  static boolean connects(Path from, String ip, int port) {
    try {
      return NetworkNamespace.call(
          from,
          () -> {
            try (Socket s = new Socket()) {
              s.connect(new InetSocketAddress(ip, port), 1000);
              return true;
            } catch (IOException e) {
              return false;
            }
          });
    } catch (Exception e) {
      return false;
    }
  }

  private static Socket boundTo(int localPort) throws IOException {
    Socket s = new Socket();
    s.setReuseAddress(true);
    s.bind(new InetSocketAddress(localPort));
    return s;
  }
}
