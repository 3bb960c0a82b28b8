package dev.tweed.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashMap;
import java.util.Map;

/**
 * A netfilter netlink socket that commits nf_tables batches: {@link #commit} reads the kernel's
 * answers, matched by sequence number, until the batch's last message is answered (that one asks
 * for an acknowledgement; a refused message is answered whether asked or not). The kernel applies a
 * batch whole or not at all; when it refuses one, the answers name the messages it refused and why.
 * The socket lives in the network namespace of the thread that opened it, whichever thread uses it
 * later.
 */
public final class NfTablesSocket implements AutoCloseable {
  private static final int NETLINK_NETFILTER = 12;
  private static final int SOL_SOCKET = 1;
  private static final int SO_SNDBUFFORCE = 32;
  private static final int SO_RCVBUFFORCE = 33;
  private static final int SO_RCVTIMEO = 20;
  private static final int SOL_NETLINK = 270;

  /** Acknowledgements of failed messages without the whole message echoed back. */
  private static final int NETLINK_CAP_ACK = 10;

  /** How long the kernel may take to answer a batch before the commit gives up. */
  private static final int ANSWER_TIMEOUT_SECONDS = 30;

  private final int fd;
  private int bufferSize;

  private NfTablesSocket(int fd) {
    this.fd = fd;
  }

  /** A socket in the calling thread's network namespace. */
  public static NfTablesSocket open() {
    int fd = Libc.netlinkSocket(NETLINK_NETFILTER);
    NfTablesSocket s = new NfTablesSocket(fd);
    try (Arena a = Arena.ofConfined()) {
      MemorySegment one = a.allocate(4);
      one.set(ValueLayout.JAVA_INT, 0, 1);
      Libc.setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, one);
      MemorySegment timeout = a.allocate(16);
      timeout.set(ValueLayout.JAVA_LONG, 0, ANSWER_TIMEOUT_SECONDS);
      Libc.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, timeout);
      s.ensureBuffers(1 << 20);
    } catch (RuntimeException e) {
      Libc.close(fd);
      throw e;
    }
    return s;
  }

  /**
   * A batch's answers: for each sequence number the kernel refused, its errno (a message it
   * accepted has none). An empty map: the batch was applied.
   */
  public record Answers(Map<Integer, Integer> refused) {
    public Answers {
      refused = Map.copyOf(refused);
    }
  }

  /**
   * Sends {@code batch} (begin, messages numbered {@code firstSeq} to {@code lastSeq}, the last
   * asking for acknowledgement, end) in one datagram and reads the answers until the last
   * message's.
   */
  public Answers commit(byte[] batch, int firstSeq, int lastSeq) {
    // One datagram carries the whole batch.
    ensureBuffers(batch.length + (1 << 16));
    Map<Integer, Integer> refused = new HashMap<>();
    boolean[] last = {false};
    try (Arena a = Arena.ofConfined()) {
      MemorySegment out = a.allocate(batch.length);
      MemorySegment.copy(batch, 0, out, ValueLayout.JAVA_BYTE, 0, batch.length);
      Libc.write(fd, out);
      MemorySegment in = a.allocate(1 << 20);
      while (!last[0]) {
        long n = Libc.readOrErrno(fd, in);
        if (n == -Libc.EAGAIN) {
          throw new IllegalStateException(
              "the kernel did not answer an nf_tables batch within "
                  + ANSWER_TIMEOUT_SECONDS
                  + " s");
        }
        if (n == -Libc.ENOBUFS) {
          throw new IllegalStateException(
              "the kernel's answers to an nf_tables batch overran the socket's buffer");
        }
        NetlinkMessage.forEachAnswer(
            in,
            n,
            (seq, errno) -> {
              if (seq >= firstSeq && seq <= lastSeq && errno != 0) {
                refused.put(seq, errno);
              }
              last[0] |= seq == lastSeq;
              return true;
            });
      }
    }
    return new Answers(refused);
  }

  private static final int NFNL_SUBSYS_NFTABLES = 10;
  private static final int NFT_MSG_NEWGEN = 15;
  private static final int NFT_MSG_GETGEN = 16;
  private static final int NFTA_GEN_ID = 1;
  private static final int NLM_F_REQUEST = 1;

  /**
   * The ruleset generation of the socket's namespace: nf_tables numbers every transaction it
   * commits (nft's, iptables-nft's, any writer's), so an unchanged number means an unchanged
   * ruleset. One request and one answer; no table is listed.
   */
  public long generation() {
    byte[] request =
        new NetlinkMessage((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN, NLM_F_REQUEST)
            .family(NetlinkMessage.buffer(4).put((byte) 0).put((byte) 0).putShort((short) 0).flip())
            .bytes(1);
    try (Arena a = Arena.ofConfined()) {
      MemorySegment out = a.allocate(request.length);
      MemorySegment.copy(request, 0, out, ValueLayout.JAVA_BYTE, 0, request.length);
      Libc.write(fd, out);
      MemorySegment in = a.allocate(8192);
      long n = Libc.readOrErrno(fd, in);
      if (n < 0) {
        throw new IllegalStateException("no answer to NFT_MSG_GETGEN: " + reason((int) -n));
      }
      ByteBuffer m = NetlinkMessage.withSeq(in, n, 1);
      if (m == null) {
        throw new IllegalStateException("no answer to NFT_MSG_GETGEN");
      }
      if (NetlinkMessage.errno(m) != 0) {
        throw new IllegalStateException(
            "NFT_MSG_GETGEN refused: " + reason(NetlinkMessage.errno(m)));
      }
      if (NetlinkMessage.type(m) != ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN)) {
        throw new IllegalStateException(
            "unexpected answer to NFT_MSG_GETGEN: type " + NetlinkMessage.type(m));
      }
      // After the nfgenmsg (4 bytes), the generation, in network byte order.
      ByteBuffer id = NetlinkMessage.attribute(m, 4, NFTA_GEN_ID);
      if (id == null) {
        throw new IllegalStateException("NFT_MSG_NEWGEN without NFTA_GEN_ID");
      }
      return Integer.toUnsignedLong(id.order(ByteOrder.BIG_ENDIAN).getInt(0));
    }
  }

  private void ensureBuffers(int bytes) {
    if (bytes <= bufferSize) {
      return;
    }
    try (Arena a = Arena.ofConfined()) {
      MemorySegment size = a.allocate(4);
      size.set(ValueLayout.JAVA_INT, 0, bytes);
      Libc.setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, size);
      Libc.setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, size);
    }
    bufferSize = bytes;
  }

  /** The kernel's text for an errno. */
  public static String reason(int errno) {
    return Libc.strerror(errno);
  }

  @Override
  public void close() {
    Libc.close(fd);
  }
}
