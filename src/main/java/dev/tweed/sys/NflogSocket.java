package dev.tweed.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * A netfilter log socket (nfnetlink_log) bound to one log group in the calling thread's network
 * namespace: it receives the packets that rules with {@code -j NFLOG --nflog-group G} (iptables) or
 * {@code log group G} (nftables) hand it, each with the rule's prefix and the first bytes of the
 * packet. Reads wait at most a second, so a reader can notice it was closed.
 */
public final class NflogSocket implements AutoCloseable {
  private static final int NETLINK_NETFILTER = 12;
  private static final int NFNL_SUBSYS_ULOG = 4;
  private static final int NFULNL_MSG_PACKET = 0;
  private static final int NFULNL_MSG_CONFIG = 1;
  private static final int NFULA_CFG_CMD = 1;
  private static final int NFULA_CFG_MODE = 2;
  private static final int NFULNL_CFG_CMD_BIND = 1;
  private static final int NFULNL_CFG_CMD_UNBIND = 2;
  private static final int NFULNL_COPY_PACKET = 2;
  private static final int NFULA_PACKET_HDR = 1;
  private static final int NFULA_TIMESTAMP = 3;
  private static final int NFULA_IFINDEX_INDEV = 4;
  private static final int NFULA_IFINDEX_OUTDEV = 5;
  private static final int NFULA_PAYLOAD = 9;
  private static final int NFULA_PREFIX = 10;
  private static final int NLM_F_REQUEST = 0x1;
  private static final int NLM_F_ACK = 0x4;
  private static final int AF_INET = 2;
  private static final int SOL_SOCKET = 1;
  private static final int SO_RCVTIMEO = 20;
  private static final int SO_RCVBUFFORCE = 33;

  /**
   * One logged packet.
   *
   * @param hook the netfilter hook it was logged in (0 PREROUTING ... 4 POSTROUTING)
   * @param wallNanos when it was logged, where the kernel stamped it (0 otherwise)
   * @param payload the packet from its IP header, as much as the rule copies
   */
  public record Logged(
      String prefix, int hook, long wallNanos, int inIfindex, int outIfindex, byte[] payload) {}

  private final int fd;
  private final int group;
  private int seq;

  private NflogSocket(int fd, int group) {
    this.fd = fd;
    this.group = group;
  }

  /** Bound to {@code group}, copying up to {@code copyRange} bytes of each packet. */
  public static NflogSocket open(int group, int copyRange) {
    int fd = Libc.netlinkSocket(NETLINK_NETFILTER);
    NflogSocket s = new NflogSocket(fd, group);
    try (Arena a = Arena.ofConfined()) {
      MemorySegment timeout = a.allocate(16);
      timeout.set(ValueLayout.JAVA_LONG, 0, 1);
      Libc.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, timeout);
      MemorySegment size = a.allocate(4);
      size.set(ValueLayout.JAVA_INT, 0, 4 << 20);
      Libc.setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, size);
      s.config("bind log group " + group, new byte[] {NFULNL_CFG_CMD_BIND}, Optional.empty());
      byte[] mode =
          ByteBuffer.allocate(8)
              .order(ByteOrder.BIG_ENDIAN)
              .putInt(copyRange)
              .put((byte) NFULNL_COPY_PACKET)
              .array();
      s.config("copy mode of log group " + group, null, Optional.of(mode));
    } catch (RuntimeException e) {
      Libc.close(fd);
      throw e;
    }
    return s;
  }

  private void config(String what, byte[] cmd, Optional<byte[]> mode) {
    NetlinkMessage m =
        new NetlinkMessage((NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG, NLM_F_REQUEST | NLM_F_ACK)
            .family(nfgenmsg(group));
    if (cmd != null) {
      m.attr(NFULA_CFG_CMD, cmd);
    }
    mode.ifPresent(v -> m.attr(NFULA_CFG_MODE, Arrays.copyOf(v, 6)));
    int mySeq = ++seq;
    byte[] req = m.bytes(mySeq);
    try (Arena a = Arena.ofConfined()) {
      MemorySegment out = a.allocate(req.length);
      MemorySegment.copy(req, 0, out, ValueLayout.JAVA_BYTE, 0, req.length);
      Libc.write(fd, out);
      MemorySegment in = a.allocate(8192);
      for (int tries = 0; tries < 16; tries++) {
        long n = Libc.readOrErrno(fd, in);
        if (n <= 0) {
          continue;
        }
        boolean acked =
            !NetlinkMessage.forEachAnswer(
                in,
                n,
                (seq, errno) -> {
                  if (seq != mySeq) {
                    return true;
                  }
                  if (errno != 0) {
                    throw new IllegalStateException(what + ": " + Libc.strerror(errno));
                  }
                  return false;
                });
        if (acked) {
          return;
        }
      }
      throw new IllegalStateException(what + ": the kernel did not answer");
    }
  }

  private static ByteBuffer nfgenmsg(int resId) {
    return NetlinkMessage.buffer(4)
        .put((byte) AF_INET)
        .put((byte) 0)
        .order(ByteOrder.BIG_ENDIAN)
        .putShort((short) resId)
        .order(ByteOrder.nativeOrder())
        .flip();
  }

  /**
   * The packets logged since the last call; waits up to a second for the first. {@code lost} gets 1
   * when the socket's buffer overran (the kernel dropped messages for it).
   */
  public List<Logged> receive(int[] lost) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment in = a.allocate(256 * 1024);
      long n = Libc.readOrErrno(fd, in);
      if (n == -Libc.ENOBUFS) {
        lost[0] = 1;
        return List.of();
      }
      if (n <= 0) {
        return List.of();
      }
      return parse(
          ByteBuffer.wrap(in.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE))
              .order(ByteOrder.nativeOrder()));
    }
  }

  /** The packet messages in one read's worth of netlink messages. */
  static List<Logged> parse(ByteBuffer b) {
    List<Logged> out = new ArrayList<>();
    int off = 0;
    while (off + NetlinkMessage.HEADER <= b.limit()) {
      int len = b.getInt(off);
      if (len < NetlinkMessage.HEADER || off + len > b.limit()) {
        break;
      }
      int type = b.getShort(off + 4) & 0xffff;
      if (type == ((NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET)) {
        out.add(packet(b, off + NetlinkMessage.HEADER + 4, off + len));
      }
      off += (len + 3) & ~3;
    }
    return out;
  }

  private static Logged packet(ByteBuffer b, int from, int to) {
    String prefix = "";
    int hook = -1;
    long wall = 0;
    int in = 0;
    int out = 0;
    byte[] payload = new byte[0];
    ByteBuffer be = b.duplicate().order(ByteOrder.BIG_ENDIAN);
    int off = from;
    while (off + 4 <= to) {
      int len = b.getShort(off) & 0xffff;
      int type = b.getShort(off + 2) & 0x7fff;
      if (len < 4 || off + len > to) {
        break;
      }
      int v = off + 4;
      int size = len - 4;
      switch (type) {
        case NFULA_PACKET_HDR -> hook = b.get(v + 2) & 0xff;
        case NFULA_TIMESTAMP -> wall = be.getLong(v) * 1_000_000_000L + be.getLong(v + 8) * 1_000L;
        case NFULA_IFINDEX_INDEV -> in = be.getInt(v);
        case NFULA_IFINDEX_OUTDEV -> out = be.getInt(v);
        case NFULA_PAYLOAD -> {
          payload = new byte[size];
          b.get(v, payload);
        }
        case NFULA_PREFIX -> {
          byte[] s = new byte[size];
          b.get(v, s);
          int end = 0;
          while (end < s.length && s[end] != 0) {
            end++;
          }
          prefix = new String(s, 0, end, StandardCharsets.US_ASCII);
        }
        default -> {}
      }
      off += (len + 3) & ~3;
    }
    return new Logged(prefix, hook, wall, in, out, payload);
  }

  @Override
  public void close() {
    try {
      config("unbind log group " + group, new byte[] {NFULNL_CFG_CMD_UNBIND}, Optional.empty());
    } catch (RuntimeException ignored) {
      // Closing the socket unbinds it too.
    } finally {
      Libc.close(fd);
    }
  }
}
