package dev.tweed.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.util.HexFormat;
import java.util.Optional;

/**
 * A route netlink socket in the namespace of the thread that opened it, with the few requests a pod
 * attachment needs (veth pair, link up, address, route, link delete). Each request waits for the
 * kernel's acknowledgement, so a failure names the request and the kernel's reason; no process is
 * forked, which is what makes a CNI ADD cheaper than {@code ip -batch}.
 */
public final class RtNetlink implements AutoCloseable {
  private static final int NETLINK_ROUTE = 0;
  private static final int NLM_F_REQUEST = 0x1;
  private static final int NLM_F_ACK = 0x4;
  private static final int NLM_F_REPLACE = 0x100;
  private static final int NLM_F_EXCL = 0x200;
  private static final int NLM_F_CREATE = 0x400;
  private static final int RTM_NEWLINK = 16;
  private static final int RTM_DELLINK = 17;
  private static final int RTM_GETLINK = 18;
  private static final int RTM_NEWADDR = 20;
  private static final int RTM_NEWROUTE = 24;
  private static final int IFLA_ADDRESS = 1;
  private static final int IFLA_IFNAME = 3;
  private static final int IFLA_MTU = 4;
  private static final int IFLA_LINKINFO = 18;
  private static final int IFLA_NET_NS_FD = 28;
  private static final int IFLA_INFO_KIND = 1;
  private static final int IFLA_INFO_DATA = 2;
  private static final int VETH_INFO_PEER = 1;
  private static final int IFA_ADDRESS = 1;
  private static final int IFA_LOCAL = 2;
  private static final int RTA_DST = 1;
  private static final int RTA_OIF = 4;
  private static final int RTA_GATEWAY = 5;
  private static final int AF_UNSPEC = 0;
  private static final int AF_INET = 2;
  private static final int AF_INET6 = 10;
  private static final int IFA_FLAGS = 8;
  private static final int IFA_F_NODAD = 0x02;
  private static final int IFF_UP = 1;
  private static final int RT_TABLE_MAIN = 254;
  private static final int RTN_UNICAST = 1;
  private static final int ENODEV = 19;

  /** Route scopes as {@code ip route} names them. */
  public static final int SCOPE_UNIVERSE = 0;

  public static final int SCOPE_LINK = 253;

  /** The protocol number of routes a plain {@code ip route add} makes. */
  public static final int PROTO_BOOT = 3;

  private final int fd;
  private int seq;

  private RtNetlink(int fd) {
    this.fd = fd;
  }

  /**
   * A socket in the calling thread's network namespace; it stays there whichever thread uses it.
   */
  public static RtNetlink open() {
    return new RtNetlink(Libc.netlinkSocket(NETLINK_ROUTE));
  }

  /** A failed request: what was asked and the kernel's errno. */
  public static final class NetlinkException extends RuntimeException {
    private final int errno;

    NetlinkException(String request, int errno) {
      super(request + ": " + Libc.strerror(errno));
      this.errno = errno;
    }

    public int errno() {
      return errno;
    }
  }

  /**
   * Creates a veth pair, both ends down: {@code name} here, {@code peerName} in {@code peerNs}.
   * MACs are {@code aa:bb:...} text.
   */
  public void createVethPair(
      String name, String mac, int mtu, String peerName, String peerMac, NetnsFd peerNs) {
    NetlinkMessage m =
        new NetlinkMessage(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL)
            .family(ifinfomsg(0, 0, 0))
            .attrString(IFLA_IFNAME, name)
            .attr(IFLA_ADDRESS, mac(mac))
            .attrInt(IFLA_MTU, mtu)
            .begin(IFLA_LINKINFO)
            .attrString(IFLA_INFO_KIND, "veth")
            .begin(IFLA_INFO_DATA)
            .begin(VETH_INFO_PEER);
    // The peer cannot be set up here: a veth end opens only once its peer exists, and the peer
    // is configured before this end is registered (the kernel answers ENOTCONN).
    ByteBuffer peerHeader = ifinfomsg(0, 0, 0);
    byte[] raw = new byte[peerHeader.remaining()];
    peerHeader.get(raw);
    // The peer's ifinfomsg is the nested attribute's payload, followed by its own attributes.
    m.attrRaw(raw)
        .attrString(IFLA_IFNAME, peerName)
        .attr(IFLA_ADDRESS, mac(peerMac))
        .attrInt(IFLA_MTU, mtu)
        .attrInt(IFLA_NET_NS_FD, peerNs.fd())
        .end()
        .end()
        .end();
    exchange("create veth " + name + " peer " + peerName, m);
  }

  /** Sets a link up. */
  public void setUp(int index) {
    exchange(
        "set link " + index + " up",
        new NetlinkMessage(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK)
            .family(ifinfomsg(index, IFF_UP, IFF_UP)));
  }

  /** The index of a link, if it exists in this socket's namespace. */
  public Optional<Integer> indexOf(String name) {
    NetlinkMessage m =
        new NetlinkMessage(RTM_GETLINK, NLM_F_REQUEST)
            .family(ifinfomsg(0, 0, 0))
            .attrString(IFLA_IFNAME, name);
    try {
      ByteBuffer reply = exchange("get link " + name, m);
      return Optional.of(reply.getInt(NetlinkMessage.HEADER + 4));
    } catch (NetlinkException e) {
      if (e.errno() == ENODEV) {
        return Optional.empty();
      }
      throw e;
    }
  }

  /** The index of a link that must exist. */
  public int index(String name) {
    return indexOf(name).orElseThrow(() -> new NetlinkException("find link " + name, ENODEV));
  }

  /** Deletes a link by name; returns false when there was none. */
  public boolean deleteLink(String name) {
    try {
      exchange(
          "delete link " + name,
          new NetlinkMessage(RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK)
              .family(ifinfomsg(0, 0, 0))
              .attrString(IFLA_IFNAME, name));
      return true;
    } catch (NetlinkException e) {
      if (e.errno() == ENODEV) {
        return false;
      }
      throw e;
    }
  }

  /**
   * Adds {@code address/prefix} of either family to a link (scope global). An IPv6 address skips
   * duplicate address detection: the address is the pod's own, and DAD would hold it tentative
   * (unusable) for a second or more after every ADD.
   */
  public void addAddress(int index, String address, int prefix) {
    byte[] a = address(address);
    ByteBuffer h =
        NetlinkMessage.buffer(8)
            .put(family(a))
            .put((byte) prefix)
            .put((byte) 0)
            .put((byte) SCOPE_UNIVERSE)
            .putInt(index)
            .flip();
    exchange(
        "add address " + address + "/" + prefix + " to link " + index,
        new NetlinkMessage(RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL)
            .family(h)
            .attr(IFA_LOCAL, a)
            .attr(IFA_ADDRESS, a)
            .attrInt(IFA_FLAGS, a.length == 16 ? IFA_F_NODAD : 0));
  }

  /**
   * Adds (or with {@code replace}, replaces) a main-table unicast route {@code dst/dstLen} out of
   * link {@code oif}, via {@code gateway} if given; the family is {@code dst}'s.
   */
  public void addRoute(
      boolean replace,
      String dst,
      int dstLen,
      Optional<String> gateway,
      int oif,
      int scope,
      int protocol) {
    byte[] d = address(dst);
    ByteBuffer h =
        NetlinkMessage.buffer(12)
            .put(family(d))
            .put((byte) dstLen)
            .put((byte) 0)
            .put((byte) 0)
            .put((byte) RT_TABLE_MAIN)
            .put((byte) protocol)
            .put((byte) scope)
            .put((byte) RTN_UNICAST)
            .putInt(0)
            .flip();
    int flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | (replace ? NLM_F_REPLACE : NLM_F_EXCL);
    NetlinkMessage m = new NetlinkMessage(RTM_NEWROUTE, flags).family(h);
    if (dstLen > 0) {
      m.attr(RTA_DST, d);
    }
    gateway.ifPresent(g -> m.attr(RTA_GATEWAY, address(g)));
    m.attrInt(RTA_OIF, oif);
    exchange(
        "add route "
            + dst
            + "/"
            + dstLen
            + gateway.map(g -> " via " + g).orElse("")
            + " dev "
            + oif,
        m);
  }

  @Override
  public void close() {
    Libc.close(fd);
  }

  /**
   * Sends one request and returns the kernel's answer to it: the acknowledgement (an error message
   * with code 0) or the first data message; a negative code becomes an exception.
   */
  private ByteBuffer exchange(String what, NetlinkMessage m) {
    int mySeq = ++seq;
    byte[] req = m.bytes(mySeq);
    try (Arena a = Arena.ofConfined()) {
      MemorySegment out = a.allocate(req.length);
      MemorySegment.copy(req, 0, out, ValueLayout.JAVA_BYTE, 0, req.length);
      Libc.write(fd, out);
      MemorySegment in = a.allocate(32 * 1024);
      for (; ; ) {
        ByteBuffer answer = NetlinkMessage.withSeq(in, Libc.read(fd, in), mySeq);
        if (answer != null) {
          if (NetlinkMessage.errno(answer) != 0) {
            throw new NetlinkException(what, NetlinkMessage.errno(answer));
          }
          return answer;
        }
      }
    }
  }

  private static ByteBuffer ifinfomsg(int index, int flags, int change) {
    return NetlinkMessage.buffer(16)
        .put((byte) AF_UNSPEC)
        .put((byte) 0)
        .putShort((short) 0)
        .putInt(index)
        .putInt(flags)
        .putInt(change)
        .flip();
  }

  private static byte[] mac(String text) {
    return HexFormat.ofDelimiter(":").parseHex(text);
  }

  /** 4 or 16 bytes; never a name lookup. */
  private static byte[] address(String address) {
    try {
      return InetAddress.ofLiteral(address).getAddress();
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("not an IP address: " + address, e);
    }
  }

  private static byte family(byte[] address) {
    return (byte) (address.length == 16 ? AF_INET6 : AF_INET);
  }
}
