package dev.tweed.sys;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Lets a process in one network namespace reach a TCP service that lives only inside another: it
 * listens on an ephemeral loopback port where it runs, and opens each connection's other end from a
 * thread that entered the target namespace. The lab's CLI and controller, which run in the host's
 * namespace, reach the lab's etcd members this way without a single address or route being added to
 * the host.
 */
public final class NamespaceTcpForwarder implements AutoCloseable {
  private final Path netns;
  private final InetSocketAddress target;
  private final ServerSocket server;
  private final Set<Socket> open = ConcurrentHashMap.newKeySet();
  private volatile boolean closed;

  public NamespaceTcpForwarder(Path netns, InetSocketAddress target) {
    this.netns = netns;
    this.target = target;
    try {
      server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot listen on loopback", e);
    }
    Thread.ofPlatform().daemon().name("forward-" + target).start(this::acceptLoop);
  }

  /** The loopback address to connect to instead of {@code target}. */
  public InetSocketAddress local() {
    return new InetSocketAddress(server.getInetAddress(), server.getLocalPort());
  }

  private void acceptLoop() {
    while (!closed) {
      Socket client;
      try {
        client = server.accept();
      } catch (IOException e) {
        return;
      }
      open.add(client);
      Thread.ofVirtual().start(() -> connect(client));
    }
  }

  private void connect(Socket client) {
    Socket remote;
    try {
      remote =
          NetworkNamespace.call(
              netns,
              () -> {
                Socket s = new Socket();
                s.setTcpNoDelay(true);
                s.connect(target, 2000);
                return s;
              });
    } catch (Exception e) {
      // The target is down: the client sees its connection closed, as it would see a refusal.
      closeQuietly(client);
      return;
    }
    open.add(remote);
    // Once created, a socket stays in its namespace: any thread may copy bytes through it.
    Thread.ofVirtual().start(() -> pump(client, remote));
    pump(remote, client);
  }

  private void pump(Socket from, Socket to) {
    byte[] buf = new byte[16384];
    try (InputStream in = from.getInputStream();
        OutputStream out = to.getOutputStream()) {
      int n;
      while ((n = in.read(buf)) >= 0) {
        out.write(buf, 0, n);
        out.flush();
      }
    } catch (IOException e) {
      // Either side closed or reset: both ends are closed below.
    } finally {
      closeQuietly(from);
      closeQuietly(to);
    }
  }

  private void closeQuietly(Socket s) {
    open.remove(s);
    try {
      s.close();
    } catch (IOException ignored) {
      // Already closed.
    }
  }

  @Override
  public void close() {
    closed = true;
    try {
      server.close();
    } catch (IOException ignored) {
      // Closing a listening socket does not fail in a way that matters here.
    }
    for (Socket s : open) {
      closeQuietly(s);
    }
  }
}
