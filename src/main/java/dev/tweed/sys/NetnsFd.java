package dev.tweed.sys;

import java.nio.file.Path;

/**
 * An open descriptor of a network namespace. Holding one keeps the namespace reachable whatever
 * mounts or PID namespace it was named in; the CNI shim opens the runtime's {@code CNI_NETNS} and
 * passes the descriptor to the agent.
 */
public final class NetnsFd implements AutoCloseable {
  private static final long NS_GET_NSTYPE = 0xb703; // _IO(0xb7, 0x3)
  private static final int CLONE_NEWNET = 0x40000000;
  private final int fd;
  private boolean closed;

  private NetnsFd(int fd) {
    this.fd = fd;
  }

  /** Takes ownership of a descriptor received from elsewhere. */
  public static NetnsFd adopt(int fd) {
    return new NetnsFd(fd);
  }

  /** Opens the namespace at a path ({@code /run/netns/NAME}, {@code /proc/PID/ns/net}, ...). */
  public static NetnsFd open(Path path) {
    return new NetnsFd(Libc.open(path.toString(), Libc.O_RDONLY_CLOEXEC));
  }

  /** Whether the descriptor names a network namespace (and not some other file). */
  public boolean isNetworkNamespace() {
    try {
      return Libc.ioctl(fd(), NS_GET_NSTYPE) == CLONE_NEWNET;
    } catch (Libc.ErrnoException e) {
      return false; // ENOTTY: not a namespace file at all
    }
  }

  /** The descriptor number in this process, valid until {@link #close()}. */
  public int fd() {
    if (closed) {
      throw new IllegalStateException("namespace descriptor already closed");
    }
    return fd;
  }

  @Override
  public synchronized void close() {
    if (!closed) {
      closed = true;
      Libc.close(fd);
    }
  }
}
