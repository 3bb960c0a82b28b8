package dev.tweed.lab;

import dev.tweed.model.IpAddress;
import dev.tweed.sys.NetworkNamespace;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.Channel;
import java.nio.channels.DatagramChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A pod's probe server, in the spirit of agnhost netexec: on each declared port it answers TCP
 * connections and UDP datagrams with the pod's {@code namespace/name}. The sockets are opened
 * inside the pod's namespace, so one process serves every pod of the lab. A UDP datagram that says
 * {@value #CLIENT_IP_REQUEST} is answered with the source address the pod saw. Each socket is the
 * JDK's dual-stack one: it answers on the pod's IPv4 and IPv6 addresses alike.
 */
public final class ProbeServer implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ProbeServer.class);

  /** A port to serve. */
  public record Port(int number, String protocol) {}

  /** A UDP request whose answer is the client's address instead of the pod's name. */
  public static final String CLIENT_IP_REQUEST = "clientip";

  private final List<Channel> channels = new ArrayList<>();
  private final byte[] answer;

  public ProbeServer(Path netns, String identity, List<Port> ports) throws Exception {
    this.answer = (identity + "\n").getBytes(StandardCharsets.UTF_8);
    NetworkNamespace.call(
        netns,
        () -> {
          for (Port p : ports) {
            switch (p.protocol()) {
              case "TCP" -> {
                ServerSocketChannel s = ServerSocketChannel.open();
                s.setOption(StandardSocketOptions.SO_REUSEADDR, true);
                s.bind(new InetSocketAddress(p.number()), 512);
                channels.add(s);
              }
              case "UDP" -> {
                DatagramChannel d = DatagramChannel.open();
                d.bind(new InetSocketAddress(p.number()));
                channels.add(d);
              }
              default ->
                  LOG.info(
                      "event=probe-port-skipped protocol={} port={}", p.protocol(), p.number());
            }
          }
          return null;
        });
    for (var c : channels) {
      if (c instanceof ServerSocketChannel s) {
        Thread.startVirtualThread(() -> serveTcp(s));
      } else if (c instanceof DatagramChannel d) {
        Thread.startVirtualThread(() -> serveUdp(d));
      }
    }
  }

  private void serveTcp(ServerSocketChannel s) {
    while (s.isOpen()) {
      try {
        SocketChannel c = s.accept();
        Thread.startVirtualThread(
            () -> {
              try (c) {
                ByteBuffer b = ByteBuffer.wrap(answer);
                while (b.hasRemaining()) {
                  c.write(b);
                }
              } catch (IOException ignored) {
                // The client went away; nothing to answer.
              }
            });
      } catch (IOException e) {
        return;
      }
    }
  }

  private void serveUdp(DatagramChannel d) {
    ByteBuffer in = ByteBuffer.allocate(2048);
    while (d.isOpen()) {
      try {
        in.clear();
        SocketAddress from = d.receive(in);
        String request = new String(in.array(), 0, in.position(), StandardCharsets.UTF_8);
        // "clientip" asks for the source address as this pod saw it (agnhost's /clientip).
        byte[] reply =
            request.startsWith(CLIENT_IP_REQUEST)
                ? (IpAddress.fromBytes(((InetSocketAddress) from).getAddress().getAddress()) + "\n")
                    .getBytes(StandardCharsets.UTF_8)
                : answer;
        d.send(ByteBuffer.wrap(reply), from);
      } catch (IOException e) {
        if (!d.isOpen()) {
          return;
        }
      }
    }
  }

  @Override
  public void close() {
    for (var c : channels) {
      try {
        c.close();
      } catch (IOException ignored) {
        // Closing a listening socket.
      }
    }
  }
}
