package dev.tweed.sys;

import java.lang.foreign.AddressLayout;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * The few libc calls Tweed makes directly (sockets, descriptors, namespaces), through the Foreign
 * Function and Memory API. Every call returns the raw result; a negative one is turned into an
 * {@link ErrnoException} carrying the call's name and {@code errno}.
 */
public final class Libc {
  static final int AF_UNIX = 1;
  static final int AF_NETLINK = 16;
  static final int SOCK_STREAM = 1;
  static final int SOCK_RAW = 3;
  static final int SOCK_CLOEXEC = 0x80000;
  static final int O_RDONLY_CLOEXEC = 0x80000;
  static final int SHUT_WR = 1;
  static final int SHUT_RDWR = 2;
  static final int EINTR = 4;

  private static final Linker LINKER = Linker.nativeLinker();
  private static final Linker.Option ERRNO = Linker.Option.captureCallState("errno");
  private static final VarHandle ERRNO_HANDLE =
      Linker.Option.captureStateLayout().varHandle(MemoryLayout.PathElement.groupElement("errno"));
  private static final ValueLayout.OfInt I = ValueLayout.JAVA_INT;
  private static final ValueLayout.OfLong L = ValueLayout.JAVA_LONG;
  private static final AddressLayout P = ValueLayout.ADDRESS;

  private static final MethodHandle SOCKET = handle("socket", FunctionDescriptor.of(I, I, I, I));
  private static final MethodHandle BIND = handle("bind", FunctionDescriptor.of(I, I, P, I));
  private static final MethodHandle LISTEN = handle("listen", FunctionDescriptor.of(I, I, I));
  private static final MethodHandle ACCEPT4 =
      handle("accept4", FunctionDescriptor.of(I, I, P, P, I));
  private static final MethodHandle CONNECT = handle("connect", FunctionDescriptor.of(I, I, P, I));
  private static final MethodHandle READ = handle("read", FunctionDescriptor.of(L, I, P, L));
  private static final MethodHandle WRITE = handle("write", FunctionDescriptor.of(L, I, P, L));
  private static final MethodHandle SENDMSG = handle("sendmsg", FunctionDescriptor.of(L, I, P, I));
  private static final MethodHandle RECVMSG = handle("recvmsg", FunctionDescriptor.of(L, I, P, I));
  private static final MethodHandle SHUTDOWN = handle("shutdown", FunctionDescriptor.of(I, I, I));
  private static final MethodHandle CLOSE = handle("close", FunctionDescriptor.of(I, I));
  private static final MethodHandle SETSOCKOPT =
      handle("setsockopt", FunctionDescriptor.of(I, I, I, I, P, I));
  private static final MethodHandle OPEN = handle("open", FunctionDescriptor.of(I, P, I));
  private static final MethodHandle SETNS = handle("setns", FunctionDescriptor.of(I, I, I));
  private static final MethodHandle IOCTL = handle("ioctl", FunctionDescriptor.of(I, I, L));
  private static final MethodHandle IF_NAMETOINDEX =
      handle("if_nametoindex", FunctionDescriptor.of(I, P));
  private static final MethodHandle STRERROR =
      LINKER.downcallHandle(
          LINKER.defaultLookup().find("strerror").orElseThrow(),
          FunctionDescriptor.of(
              P.withTargetLayout(MemoryLayout.sequenceLayout(256, ValueLayout.JAVA_BYTE)), I));

  private Libc() {}

  private static MethodHandle handle(String name, FunctionDescriptor fd) {
    return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(), fd, ERRNO);
  }

  /** A failed libc call: its name, its {@code errno} and the C library's words for it. */
  static final class ErrnoException extends RuntimeException {
    final int errno;

    ErrnoException(String call, int errno) {
      super(call + ": " + strerror(errno) + " (errno " + errno + ")");
      this.errno = errno;
    }
  }

  public static String strerror(int errno) {
    try {
      MemorySegment s = (MemorySegment) STRERROR.invokeExact(errno);
      return s.getString(0);
    } catch (Throwable t) {
      return "errno " + errno;
    }
  }

  /** One native call, given the segment where the linker captures {@code errno}. */
  @FunctionalInterface
  private interface NativeCall {
    long call(MemorySegment errnoState) throws Throwable;
  }

  /** Runs {@code c}, again after EINTR, and turns a negative result into an exception. */
  private static long call(String name, NativeCall c) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment st = a.allocate(Linker.Option.captureStateLayout());
      for (; ; ) {
        long rc = c.call(st);
        if (rc >= 0) {
          return rc;
        }
        int errno = (int) ERRNO_HANDLE.get(st, 0L);
        if (errno != EINTR) {
          throw new ErrnoException(name, errno);
        }
      }
    } catch (RuntimeException | Error e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException(name + " failed", t);
    }
  }

  static int socket(int domain, int type, int protocol) {
    return (int) call("socket", st -> (int) SOCKET.invokeExact(st, domain, type, protocol));
  }

  static void bind(int fd, MemorySegment addr) {
    call("bind", st -> (int) BIND.invokeExact(st, fd, addr, (int) addr.byteSize()));
  }

  static void listen(int fd, int backlog) {
    call("listen", st -> (int) LISTEN.invokeExact(st, fd, backlog));
  }

  static int accept(int fd) {
    return (int)
        call(
            "accept4",
            st ->
                (int)
                    ACCEPT4.invokeExact(
                        st, fd, MemorySegment.NULL, MemorySegment.NULL, SOCK_CLOEXEC));
  }

  static void connect(int fd, MemorySegment addr) {
    call("connect", st -> (int) CONNECT.invokeExact(st, fd, addr, (int) addr.byteSize()));
  }

  static long read(int fd, MemorySegment buf) {
    return call("read", st -> (long) READ.invokeExact(st, fd, buf, buf.byteSize()));
  }

  static final int EAGAIN = 11;
  static final int ENOBUFS = 105;

  /**
   * A read that may time out (a socket with SO_RCVTIMEO) or find the socket's buffer overrun:
   * -EAGAIN and -ENOBUFS are returned, not thrown.
   */
  static long readOrErrno(int fd, MemorySegment buf) {
    try {
      return read(fd, buf);
    } catch (ErrnoException e) {
      if (e.errno == EAGAIN || e.errno == ENOBUFS) {
        return -e.errno;
      }
      throw e;
    }
  }

  static void setsockopt(int fd, int level, int option, MemorySegment value) {
    call(
        "setsockopt",
        st -> (int) SETSOCKOPT.invokeExact(st, fd, level, option, value, (int) value.byteSize()));
  }

  /**
   * A netlink socket of {@code protocol} in the calling thread's network namespace, connected to
   * the kernel (port 0), so that plain write(2) and read(2) carry its messages.
   */
  static int netlinkSocket(int protocol) {
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
    try (Arena a = Arena.ofConfined()) {
      MemorySegment kernel = a.allocate(12);
      kernel.set(ValueLayout.JAVA_SHORT, 0, (short) AF_NETLINK);
      connect(fd, kernel);
    } catch (RuntimeException e) {
      close(fd);
      throw e;
    }
    return fd;
  }

  /**
   * A netlink socket of {@code protocol} in the calling thread's network namespace that receives
   * the kernel's notifications to the multicast {@code groups} (a bit mask), and nothing else.
   */
  static int netlinkSubscriber(int protocol, int groups) {
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
    try (Arena a = Arena.ofConfined()) {
      MemorySegment local = a.allocate(12);
      local.set(ValueLayout.JAVA_SHORT, 0, (short) AF_NETLINK);
      local.set(ValueLayout.JAVA_INT, 8, groups);
      bind(fd, local);
    } catch (RuntimeException e) {
      close(fd);
      throw e;
    }
    return fd;
  }

  static long write(int fd, MemorySegment buf) {
    return call("write", st -> (long) WRITE.invokeExact(st, fd, buf, buf.byteSize()));
  }

  static long sendmsg(int fd, MemorySegment msghdr) {
    return call("sendmsg", st -> (long) SENDMSG.invokeExact(st, fd, msghdr, 0));
  }

  static long recvmsg(int fd, MemorySegment msghdr, int flags) {
    return call("recvmsg", st -> (long) RECVMSG.invokeExact(st, fd, msghdr, flags));
  }

  static void shutdown(int fd, int how) {
    call("shutdown", st -> (int) SHUTDOWN.invokeExact(st, fd, how));
  }

  /** Closes a descriptor; a failure (EBADF, or EIO after the close) leaves nothing to undo. */
  static void close(int fd) {
    try {
      call("close", st -> (int) CLOSE.invokeExact(st, fd));
    } catch (ErrnoException ignored) {
      // The descriptor is released whatever close(2) reports.
    }
  }

  static int open(String path, int flags) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment p = a.allocateFrom(path);
      return (int) call("open " + path, st -> (int) OPEN.invokeExact(st, p, flags));
    }
  }

  static void setns(int fd, int nstype) {
    call("setns", st -> (int) SETNS.invokeExact(st, fd, nstype));
  }

  /** An ioctl that takes no argument (as the namespace ioctls do). */
  static int ioctl(int fd, long request) {
    return (int) call("ioctl", st -> (int) IOCTL.invokeExact(st, fd, request));
  }

  /** The index of a link in the calling thread's network namespace, or 0 when there is none. */
  public static int ifNameToIndex(String name) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment n = a.allocateFrom(name);
      // 0 means "no such link" (errno ENODEV), which the caller decides about.
      return (int)
          Math.max(0, call("if_nametoindex", st -> (int) IF_NAMETOINDEX.invokeExact(st, n)));
    }
  }
}
