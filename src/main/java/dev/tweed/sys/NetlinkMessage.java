package dev.tweed.sys;

import java.io.ByteArrayOutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.stream.Stream;

/**
 * Builds one netlink message: the header, a fixed family header, then attributes (rtattr), nested
 * ones included, each padded to 4 bytes as the kernel requires. Pure, no I/O.
 */
public final class NetlinkMessage {
  static final int HEADER = 16;

  /** The flag of a nested attribute's type, which nfnetlink requires and rtnetlink tolerates. */
  public static final int NLA_F_NESTED = 0x8000;

  private final ByteArrayOutputStream out = new ByteArrayOutputStream();
  private final Deque<Integer> nests = new ArrayDeque<>();
  private final int type;
  private final int flags;
  private byte[] body = new byte[0];

  public NetlinkMessage(int type, int flags) {
    this.type = type;
    this.flags = flags;
    out.write(new byte[HEADER], 0, HEADER);
  }

  /** The family header (ifinfomsg, ifaddrmsg, rtmsg), written right after the netlink header. */
  public NetlinkMessage family(ByteBuffer header) {
    byte[] b = new byte[header.remaining()];
    header.get(b);
    pad(b);
    return this;
  }

  public NetlinkMessage attr(int attrType, byte[] value) {
    ByteBuffer h = buffer(4).putShort((short) (4 + value.length)).putShort((short) attrType);
    out.write(h.array(), 0, 4);
    pad(value);
    return this;
  }

  public NetlinkMessage attrInt(int attrType, int value) {
    return attr(attrType, buffer(4).putInt(value).array());
  }

  /** A NUL-terminated string attribute, as link names are. */
  public NetlinkMessage attrString(int attrType, String value) {
    byte[] s = value.getBytes(StandardCharsets.UTF_8);
    byte[] z = new byte[s.length + 1];
    System.arraycopy(s, 0, z, 0, s.length);
    return attr(attrType, z);
  }

  /** Bytes inside the current attribute that are not an attribute (a nested family header). */
  public NetlinkMessage attrRaw(byte[] value) {
    pad(value);
    return this;
  }

  /** Opens a nested attribute; {@link #end()} closes it and fills in its length. */
  public NetlinkMessage begin(int attrType) {
    nests.push(out.size());
    ByteBuffer h = buffer(4).putShort((short) 0).putShort((short) attrType);
    out.write(h.array(), 0, 4);
    return this;
  }

  public NetlinkMessage end() {
    int start = nests.pop();
    byte[] b = out.toByteArray();
    int len = b.length - start;
    b[start] = (byte) len;
    b[start + 1] = (byte) (len >> 8);
    out.reset();
    out.write(b, 0, b.length);
    return this;
  }

  /** The whole message with sequence number {@code seq}. */
  public byte[] bytes(int seq) {
    if (!nests.isEmpty()) {
      throw new IllegalStateException("unclosed nested attribute");
    }
    body = out.toByteArray();
    ByteBuffer.wrap(body)
        .order(ByteOrder.nativeOrder())
        .putInt(body.length)
        .putShort((short) type)
        .putShort((short) flags)
        .putInt(seq)
        .putInt(0);
    return body;
  }

  static final int NLMSG_ERROR = 2;

  /** What is done with each answer of the kernel: its sequence number and errno (0: acked). */
  interface AnswerVisitor {
    /** False to stop at this answer. */
    boolean answer(int seq, int errno);
  }

  /**
   * Visits the answers (NLMSG_ERROR: acknowledgements and errors) among the {@code n} bytes of
   * messages read into {@code in}; false if the visitor stopped.
   */
  static boolean forEachAnswer(MemorySegment in, long n, AnswerVisitor visitor) {
    return messages(in, n)
        .allMatch(m -> type(m) != NLMSG_ERROR || visitor.answer(m.getInt(8), errno(m)));
  }

  /**
   * The message numbered {@code seq} among the {@code n} bytes of messages read into {@code in}
   * (kernel byte order, positioned at its header), or null when none of them is.
   */
  static ByteBuffer withSeq(MemorySegment in, long n, int seq) {
    return messages(in, n).filter(m -> m.getInt(8) == seq).findFirst().orElse(null);
  }

  /** The messages among the {@code n} bytes read into {@code in}, each a buffer of its own. */
  private static Stream<ByteBuffer> messages(MemorySegment in, long n) {
    ByteBuffer b =
        ByteBuffer.wrap(in.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE))
            .order(ByteOrder.nativeOrder());
    List<ByteBuffer> out = new ArrayList<>();
    int off = 0;
    while (off + HEADER <= n) {
      int len = b.getInt(off);
      if (len < HEADER) {
        break;
      }
      out.add(b.slice(off, Math.min(len, (int) n - off)).order(ByteOrder.nativeOrder()));
      off += (len + 3) & ~3;
    }
    return out.stream();
  }

  /** A message's type. */
  static int type(ByteBuffer message) {
    return message.getShort(4) & 0xffff;
  }

  /** The errno of a message that is an error answer; 0 for an acknowledgement or data. */
  static int errno(ByteBuffer message) {
    return type(message) == NLMSG_ERROR ? -message.getInt(HEADER) : 0;
  }

  /**
   * The value of the first attribute of type {@code attrType} after a message's fixed header of
   * {@code fixedHeader} bytes, or null.
   */
  static ByteBuffer attribute(ByteBuffer message, int fixedHeader, int attrType) {
    int len = Math.min(message.getInt(0), message.limit());
    int off = HEADER + fixedHeader;
    while (off + 4 <= len) {
      int attrLen = message.getShort(off) & 0xffff;
      if (attrLen < 4) {
        break;
      }
      if ((message.getShort(off + 2) & 0x7fff) == attrType) {
        return message.slice(off + 4, attrLen - 4);
      }
      off += (attrLen + 3) & ~3;
    }
    return null;
  }

  /** A buffer in the kernel's byte order for a fixed header or a value. */
  public static ByteBuffer buffer(int size) {
    return ByteBuffer.allocate(size).order(ByteOrder.nativeOrder());
  }

  private void pad(byte[] b) {
    out.write(b, 0, b.length);
    int padding = (4 - b.length % 4) % 4;
    out.write(new byte[padding], 0, padding);
  }
}
