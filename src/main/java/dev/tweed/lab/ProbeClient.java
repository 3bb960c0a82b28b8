package dev.tweed.lab;

import dev.tweed.sys.NetworkNamespace;
import java.io.IOException;
import java.net.BindException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.PortUnreachableException;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;

/** Connects from inside a namespace to a probe server, with real TCP or UDP traffic. */
public final class ProbeClient {
  private ProbeClient() {}

  public static ProbeResult probe(
      Path fromNetns, String ip, int port, String proto, Duration timeout) throws Exception {
    return NetworkNamespace.call(fromNetns, () -> probeHere(ip, port, proto, timeout, "probe\n"));
  }

  /** Asks a UDP probe server for the client address it saw: source preservation, checked. */
  public static ProbeResult clientIp(Path fromNetns, String ip, int port, Duration timeout)
      throws Exception {
    return NetworkNamespace.call(
        fromNetns, () -> probeHere(ip, port, "udp", timeout, ProbeServer.CLIENT_IP_REQUEST + "\n"));
  }

  static ProbeResult probeHere(
      String ip, int port, String proto, Duration timeout, String udpRequest) {
    long start = System.nanoTime();
    int[] localPort = {0};
    try {
      String answer =
          proto.equalsIgnoreCase("udp")
              ? udp(ip, port, timeout, udpRequest)
              : tcp(ip, port, timeout, localPort);
      return new ProbeResult(true, answer, "", ms(start), localPort[0]);
    } catch (ConnectException | PortUnreachableException e) {
      return new ProbeResult(false, "", "refused", ms(start), localPort[0]);
    } catch (SocketTimeoutException e) {
      return new ProbeResult(false, "", "timed out", ms(start), localPort[0]);
    } catch (IOException e) {
      return new ProbeResult(
          false,
          "",
          e.getMessage() == null ? e.toString() : e.getMessage(),
          ms(start),
          localPort[0]);
    }
  }

  private static double ms(long start) {
    return (System.nanoTime() - start) / 1e6;
  }

  /** Connects and reads the answer; {@code localPort[0]} is set once connected. */
  private static String tcp(String ip, int port, Duration timeout, int[] localPort)
      throws IOException {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(ip, port), (int) timeout.toMillis());
      localPort[0] = s.getLocalPort();
      s.setSoTimeout((int) timeout.toMillis());
      return new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    }
  }

  /**
   * UDP probes send from ports below the kernel's ephemeral range, each a new one in turn. A
   * kernel-chosen port may repeat the 5-tuple of an earlier probe whose conntrack entry is still
   * alive (30 s, 120 s once both sides spoke): the new probe is then part of that old, allowed
   * flow, and a policy applied since does not see a new connection. That is how conntrack-based
   * policy works (Calico's too), but a probe must test a new connection.
   */
  private static final AtomicInteger NEXT_UDP_PORT =
      new AtomicInteger(ThreadLocalRandom.current().nextInt(12000));

  private static final int UDP_PORT_BASE = 20000;
  private static final int UDP_PORTS = 12000;

  private static void bindFresh(DatagramChannel d) throws IOException {
    for (int attempt = 0; attempt < 20; attempt++) {
      int p = UDP_PORT_BASE + Math.floorMod(NEXT_UDP_PORT.getAndIncrement(), UDP_PORTS);
      try {
        d.bind(new InetSocketAddress(p));
        return;
      } catch (BindException taken) {
        // in use in this namespace: the next one
      }
    }
    d.bind(null);
  }

  private static String udp(String ip, int port, Duration timeout, String request)
      throws IOException {
    try (DatagramChannel d = DatagramChannel.open();
        Selector sel = Selector.open()) {
      bindFresh(d);
      d.connect(new InetSocketAddress(ip, port));
      d.configureBlocking(false);
      d.register(sel, SelectionKey.OP_READ);
      ByteBuffer in = ByteBuffer.allocate(2048);
      long deadline = System.nanoTime() + timeout.toNanos();
      // Datagrams may be lost: ask again a few times within the timeout, as netexec's clients do.
      long resendEvery = Math.max(timeout.toNanos() / 4, 1);
      long nextSend = 0;
      while (System.nanoTime() < deadline) {
        if (System.nanoTime() >= nextSend) {
          d.write(ByteBuffer.wrap(request.getBytes(StandardCharsets.UTF_8)));
          nextSend = System.nanoTime() + resendEvery;
        }
        long waitMs = Math.max(1, Math.min(deadline, nextSend) - System.nanoTime()) / 1_000_000 + 1;
        if (sel.select(waitMs) > 0) {
          sel.selectedKeys().clear();
          in.clear();
          if (d.read(in) > 0) {
            return new String(in.array(), 0, in.position(), StandardCharsets.UTF_8).strip();
          }
        }
      }
      throw new SocketTimeoutException("no UDP answer");
    }
  }
}
