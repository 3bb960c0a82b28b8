package dev.tweed.sys;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
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
  /** Where connections are opened: a namespace, or null for where this process runs. */
  private final Path connectIn;

  private final InetSocketAddress target;
  private final ServerSocket server;
  private final Set<Socket> open = ConcurrentHashMap.newKeySet();
  private volatile boolean closed;

  /**
   * Listens on an ephemeral loopback port here; connects to {@code target} inside {@code netns}.
   */
  public NamespaceTcpForwarder(Path netns, InetSocketAddress target) {
    this(null, 0, netns, target);
  }

  private NamespaceTcpForwarder(
      Path listenIn, int listenPort, Path connectIn, InetSocketAddress target) {
    this.connectIn = connectIn;
    this.target = target;
    try {
      // A socket belongs to the namespace of the thread that created it, for good.
      server =
          listenIn == null
              ? listen(listenPort)
              : NetworkNamespace.call(listenIn, () -> listen(listenPort));
    } catch (Exception e) {
      throw new IllegalStateException("cannot listen on loopback port " + listenPort, e);
    }
    Thread.ofPlatform().daemon().name("forward-" + target).start(this::acceptLoop);
  }

  /**
   * Listens on loopback port {@code port} inside {@code netns}; connects to {@code target} here.
   */
  public static NamespaceTcpForwarder intoNamespace(
      Path netns, int port, InetSocketAddress target) {
    return new NamespaceTcpForwarder(netns, port, null, target);
  }

  private static ServerSocket listen(int port) throws IOException {
    ServerSocket s = new ServerSocket();
    s.setReuseAddress(true);
    s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 50);
    return s;
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
      remote = connectIn == null ? open() : NetworkNamespace.call(connectIn, this::open);
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

  private Socket open() throws IOException {
    Socket s = new Socket();
    s.setTcpNoDelay(true);
    s.connect(target, 2000);
    return s;
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
