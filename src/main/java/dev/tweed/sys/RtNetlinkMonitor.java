package dev.tweed.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.function.IntConsumer;

/**
 * Calls back when the kernel announces a change to links, addresses, routes or neighbours (the
 * bridge's FDB included), or to traffic control (qdiscs and filters, where the eBPF datapath's
 * programs hang), in the network namespace of the thread that starts it: rtnetlink's multicast
 * groups, read by a daemon thread. The callback gets each notification's message type ({@code
 * RTM_NEWLINK}, {@code RTM_NEWROUTE}, ...), or {@link #LOST} when the kernel dropped some (the
 * socket's buffer overran), so a listener that re-reads the kernel on each call misses nothing.
 * IPv6 neighbours are passed on only when permanent (the kind Tweed writes): every pod's veth runs
 * neighbour discovery, whose entries come and go all the time.
 */
public final class RtNetlinkMonitor implements AutoCloseable {
  private static final int NETLINK_ROUTE = 0;
  private static final int RTMGRP_LINK = 0x1;
  private static final int RTMGRP_NEIGH = 0x4;
  private static final int RTMGRP_TC = 0x8;
  private static final int RTMGRP_IPV4_IFADDR = 0x10;
  private static final int RTMGRP_IPV4_ROUTE = 0x40;
  private static final int RTMGRP_IPV6_IFADDR = 0x100;
  private static final int RTMGRP_IPV6_ROUTE = 0x400;
  private static final int RTM_NEWNEIGH = 28;
  private static final int RTM_DELNEIGH = 29;
  private static final int NUD_PERMANENT = 0x80;
  private static final int SOL_SOCKET = 1;
  private static final int AF_INET6 = 10;
  private static final int SO_RCVTIMEO = 20;

  /** What the callback gets when notifications were lost. */
  public static final int LOST = -1;

  private final int fd;
  private final Thread reader;
  private volatile boolean closed;

  private RtNetlinkMonitor(int fd, IntConsumer changed) {
    this.fd = fd;
    this.reader =
        Thread.ofPlatform().daemon().name("rtnetlink-monitor").unstarted(() -> read(changed));
  }

  /** Starts watching links, addresses, routes and neighbours in the calling thread's namespace. */
  public static RtNetlinkMonitor start(IntConsumer changed) {
    return start(
        RTMGRP_LINK
            | RTMGRP_NEIGH
            | RTMGRP_IPV4_IFADDR
            | RTMGRP_IPV4_ROUTE
            | RTMGRP_IPV6_IFADDR
            | RTMGRP_IPV6_ROUTE,
        changed);
  }

  /** Starts watching qdiscs and tc filters in the calling thread's namespace. */
  public static RtNetlinkMonitor trafficControl(IntConsumer changed) {
    return start(RTMGRP_TC, changed);
  }

  private static RtNetlinkMonitor start(int groups, IntConsumer changed) {
    int fd = Libc.netlinkSubscriber(NETLINK_ROUTE, groups);
    try (Arena a = Arena.ofConfined()) {
      // A read wakes at least once a second, so that closing ends the thread.
      MemorySegment timeout = a.allocate(16);
      timeout.set(ValueLayout.JAVA_LONG, 0, 1);
      Libc.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, timeout);
    } catch (RuntimeException e) {
      Libc.close(fd);
      throw e;
    }
    RtNetlinkMonitor m = new RtNetlinkMonitor(fd, changed);
    m.reader.start();
    return m;
  }

  private void read(IntConsumer changed) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment in = a.allocate(1 << 16);
      while (!closed) {
        long n;
        try {
          n = Libc.readOrErrno(fd, in);
        } catch (RuntimeException e) {
          if (closed) {
            return;
          }
          changed.accept(LOST); // whatever went wrong, the kernel is to be read again
          continue;
        }
        if (n == -Libc.EAGAIN) {
          continue; // the once-a-second wake-up
        }
        if (n < 0) {
          changed.accept(LOST); // -ENOBUFS
          continue;
        }
        // One datagram may carry several messages, each a header and its body.
        for (long off = 0; off + 16 <= n; ) {
          int len = in.get(ValueLayout.JAVA_INT_UNALIGNED, off);
          if (len < 16) {
            break;
          }
          // Every rtnetlink message body starts with its address family. IPv6 neighbours that
          // are not permanent are not passed on: the neighbour discovery of every pod's veth
          // (multicast neighbours created and collected, a stream of them on a node of 1,000
          // pods) would otherwise keep waking the listener, and Tweed writes permanent ones only.
          int type = in.get(ValueLayout.JAVA_SHORT_UNALIGNED, off + 4) & 0xffff;
          int family = len > 16 ? in.get(ValueLayout.JAVA_BYTE, off + 16) & 0xff : 0;
          boolean neighbour = type == RTM_NEWNEIGH || type == RTM_DELNEIGH;
          // ndmsg: family, two pads, ifindex, then the state (u16) at byte 8 of the body.
          int state = len >= 16 + 10 ? in.get(ValueLayout.JAVA_SHORT_UNALIGNED, off + 24) : 0;
          if (family != AF_INET6 || !neighbour || (state & NUD_PERMANENT) != 0) {
            changed.accept(type);
          }
          off += (len + 3) & ~3;
        }
      }
    }
  }

  @Override
  public void close() {
    closed = true;
    try {
      reader.join(2_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    Libc.close(fd);
  }
}
