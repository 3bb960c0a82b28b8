package dev.tweed.observe;

import dev.tweed.ebpf.DatapathMaps;
import dev.tweed.ebpf.FlowEvent;
import dev.tweed.model.IpAddress;
import dev.tweed.policy.DropLog;
import dev.tweed.sys.NflogSocket;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The standard datapath's denied packets: the policy tables log each packet they drop to netlink
 * log group {@value DropLog#GROUP} ({@link DropLog}), and this reads them in the agent's namespace,
 * one flow each. Lost messages (the socket's buffer overran) are counted, never waited for.
 */
public final class NflogDrops implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(NflogDrops.class);

  private static final Map<Integer, String> HOOKS =
      Map.of(0, "PREROUTING", 1, "INPUT", 2, "FORWARD", 3, "OUTPUT", 4, "POSTROUTING");

  private final NflogSocket socket;
  private final Thread thread;
  private volatile boolean open = true;
  private volatile long lost;

  public NflogDrops(Consumer<FlowEvent> consumer) {
    this.socket = NflogSocket.open(DropLog.GROUP, DropLog.SNAPLEN);
    this.thread =
        Thread.ofPlatform()
            .daemon()
            .name("nflog-drops")
            .start(
                () -> {
                  int[] overrun = new int[1];
                  while (open) {
                    try {
                      for (NflogSocket.Logged l : socket.receive(overrun)) {
                        event(l, System.nanoTime()).ifPresent(consumer);
                      }
                      if (overrun[0] != 0) {
                        lost++;
                        overrun[0] = 0;
                      }
                    } catch (RuntimeException e) {
                      if (open) {
                        LOG.warn("event=nflog-read-failed error=\"{}\"", e.getMessage());
                      }
                    }
                  }
                });
  }

  /** How many times the kernel dropped log messages for want of room in the socket's buffer. */
  public long overruns() {
    return lost;
  }

  /**
   * The flow a logged packet stands for, if a Tweed drop rule logged it: an IPv4 or an IPv6 packet
   * (the ports of an IPv6 one read where no extension header comes first).
   */
  static Optional<FlowEvent> event(NflogSocket.Logged l, long monotonicNanos) {
    Optional<DropLog.Reason> why = DropLog.parse(l.prefix());
    byte[] p = l.payload();
    if (why.isEmpty() || p.length < 20) {
      return Optional.empty();
    }
    ByteBuffer b = ByteBuffer.wrap(p).order(ByteOrder.BIG_ENDIAN);
    int version = (p[0] >> 4) & 0x0f;
    int l4;
    int proto;
    boolean fragment;
    String src;
    String dst;
    if (version == 4) {
      l4 = (p[0] & 0x0f) * 4;
      proto = p[9] & 0xff;
      fragment = (b.getShort(6) & 0x1fff) != 0;
      src = DatapathMaps.address(p, 12);
      dst = DatapathMaps.address(p, 16);
    } else if (version == 6 && p.length >= 40) {
      l4 = 40;
      proto = p[6] & 0xff;
      fragment = false; // a fragment header is an extension header: no ports read
      src = IpAddress.fromBytes(Arrays.copyOfRange(p, 8, 24)).toString();
      dst = IpAddress.fromBytes(Arrays.copyOfRange(p, 24, 40)).toString();
    } else {
      return Optional.empty();
    }
    int sport = 0;
    int dport = 0;
    if ((proto == 6 || proto == 17) && !fragment && p.length >= l4 + 4) {
      sport = b.getShort(l4) & 0xffff;
      dport = b.getShort(l4 + 2) & 0xffff;
    }
    return Optional.of(
        new FlowEvent(
            monotonicNanos,
            "DROPPED",
            why.get().reason(),
            l.inIfindex() != 0 ? l.inIfindex() : l.outIfindex(),
            "netfilter " + HOOKS.getOrDefault(l.hook(), "hook " + l.hook()),
            why.get().direction(),
            proto,
            src,
            sport,
            dst,
            dport,
            false,
            "0.0.0.0",
            0,
            "0.0.0.0",
            0));
  }

  @Override
  public void close() {
    open = false;
    try {
      thread.join(2500);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    socket.close();
  }
}
