package dev.tweed.sys;

import java.io.ByteArrayOutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.OptionalInt;

/**
 * A Unix stream socket that can carry a file descriptor with its data ({@code SCM_RIGHTS}), which
 * the JDK's channels cannot. The CNI shim passes the runtime's network namespace this way, so the
 * agent needs neither the runtime's mounts nor its PID namespace to reach it.
 */
public final class UnixSocket implements AutoCloseable {
  private static final int SOL_SOCKET = 1;
  private static final int SCM_RIGHTS = 1;
  // struct msghdr on LP64 Linux: name, namelen(+pad), iov, iovlen, control, controllen, flags.
  private static final long MSGHDR_SIZE = 56;
  private static final long MSG_IOV = 16;
  private static final long MSG_IOVLEN = 24;
  private static final long MSG_CONTROL = 32;
  private static final long MSG_CONTROLLEN = 40;
  // struct cmsghdr: len (size_t), level, type, then the data; CMSG_SPACE(sizeof(int)) is 24.
  private static final long CMSG_SPACE_ONE_FD = 24;
  private static final long CMSG_LEN_ONE_FD = 20;
  private static final int CHUNK = 64 * 1024;

  private final int fd;

  private UnixSocket(int fd) {
    this.fd = fd;
  }

  /** A socket listening at {@code path} (which must not exist). */
  public static UnixSocket listen(Path path, int backlog) {
    UnixSocket s = new UnixSocket(newSocket());
    try (Arena a = Arena.ofConfined()) {
      Libc.bind(s.fd, address(a, path));
      Libc.listen(s.fd, backlog);
      return s;
    } catch (RuntimeException e) {
      s.close();
      throw e;
    }
  }

  /** A socket connected to the listener at {@code path}. */
  public static UnixSocket connect(Path path) {
    UnixSocket s = new UnixSocket(newSocket());
    try (Arena a = Arena.ofConfined()) {
      Libc.connect(s.fd, address(a, path));
      return s;
    } catch (RuntimeException e) {
      s.close();
      throw e;
    }
  }

  /** Waits for the next connection. */
  public UnixSocket accept() {
    return new UnixSocket(Libc.accept(fd));
  }

  /** Writes all of {@code data}; {@code passFd}, if present, travels with its first byte. */
  public void send(byte[] data, OptionalInt passFd) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment buf = a.allocate(Math.max(1, data.length));
      MemorySegment.copy(data, 0, buf, ValueLayout.JAVA_BYTE, 0, data.length);
      long off = 0;
      if (passFd.isPresent()) {
        MemorySegment control = a.allocate(CMSG_SPACE_ONE_FD, 8);
        control.set(ValueLayout.JAVA_LONG, 0, CMSG_LEN_ONE_FD);
        control.set(ValueLayout.JAVA_INT, 8, SOL_SOCKET);
        control.set(ValueLayout.JAVA_INT, 12, SCM_RIGHTS);
        control.set(ValueLayout.JAVA_INT, 16, passFd.getAsInt());
        // Ancillary data needs at least one byte of payload to travel with.
        MemorySegment first = data.length == 0 ? a.allocate(1) : buf;
        off = Libc.sendmsg(fd, msghdr(a, first, Math.max(1, data.length), control));
        if (data.length == 0) {
          return;
        }
      }
      while (off < data.length) {
        off += Libc.write(fd, buf.asSlice(off, data.length - off));
      }
    }
  }

  /** What a peer sent until it shut its side down, and the descriptor it passed, if any. */
  public record Received(byte[] data, OptionalInt passedFd) {}

  /**
   * Reads until end of stream. A descriptor passed with the data is returned open (the caller
   * closes it); any further ones are closed here.
   */
  public Received receiveAll() {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    OptionalInt passed = OptionalInt.empty();
    try (Arena a = Arena.ofConfined()) {
      MemorySegment buf = a.allocate(CHUNK);
      MemorySegment control = a.allocate(CMSG_SPACE_ONE_FD, 8);
      MemorySegment hdr = msghdr(a, buf, CHUNK, control);
      for (; ; ) {
        control.fill((byte) 0);
        hdr.set(ValueLayout.JAVA_LONG, MSG_CONTROLLEN, control.byteSize());
        long n = Libc.recvmsg(fd, hdr, 0);
        long controlLen = hdr.get(ValueLayout.JAVA_LONG, MSG_CONTROLLEN);
        if (controlLen >= CMSG_LEN_ONE_FD
            && control.get(ValueLayout.JAVA_INT, 8) == SOL_SOCKET
            && control.get(ValueLayout.JAVA_INT, 12) == SCM_RIGHTS) {
          int got = control.get(ValueLayout.JAVA_INT, 16);
          if (passed.isEmpty()) {
            passed = OptionalInt.of(got);
          } else {
            Libc.close(got);
          }
        }
        if (n == 0) {
          return new Received(out.toByteArray(), passed);
        }
        out.write(buf.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE), 0, (int) n);
      }
    } catch (RuntimeException e) {
      passed.ifPresent(Libc::close);
      throw e;
    }
  }

  /** Tells the peer that nothing more will be sent. */
  public void shutdownOutput() {
    Libc.shutdown(fd, Libc.SHUT_WR);
  }

  /** Wakes a thread blocked in {@link #accept()} on this socket; it then fails. */
  public void shutdown() {
    try {
      Libc.shutdown(fd, Libc.SHUT_RDWR);
    } catch (Libc.ErrnoException ignored) {
      // Not connected: a listener. close() follows.
    }
  }

  @Override
  public void close() {
    Libc.close(fd);
  }

  private static int newSocket() {
    return Libc.socket(Libc.AF_UNIX, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC, 0);
  }

  private static MemorySegment address(Arena a, Path path) {
    byte[] p = path.toString().getBytes(StandardCharsets.UTF_8);
    if (p.length >= 108) {
      throw new IllegalArgumentException("socket path too long: " + path);
    }
    MemorySegment sa = a.allocate(110);
    sa.set(ValueLayout.JAVA_SHORT, 0, (short) Libc.AF_UNIX);
    MemorySegment.copy(p, 0, sa, ValueLayout.JAVA_BYTE, 2, p.length);
    return sa;
  }

  private static MemorySegment msghdr(Arena a, MemorySegment buf, long len, MemorySegment control) {
    MemorySegment iov = a.allocate(16, 8);
    iov.set(ValueLayout.ADDRESS, 0, buf);
    iov.set(ValueLayout.JAVA_LONG, 8, len);
    MemorySegment hdr = a.allocate(MSGHDR_SIZE, 8);
    hdr.set(ValueLayout.ADDRESS, MSG_IOV, iov);
    hdr.set(ValueLayout.JAVA_LONG, MSG_IOVLEN, 1);
    hdr.set(ValueLayout.ADDRESS, MSG_CONTROL, control);
    hdr.set(ValueLayout.JAVA_LONG, MSG_CONTROLLEN, control.byteSize());
    return hdr;
  }
}
