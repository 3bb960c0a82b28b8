package dev.tweed.ebpf;

import dev.tweed.model.Cidr;
import dev.tweed.model.IpAddress;
import dev.tweed.model.IpFamily;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;

/**
 * The byte layouts of the datapath's maps, as {@code tweed-datapath.bpf.c} declares them: host byte
 * order for numbers, network order for addresses and ports. Encoders for what the agent writes,
 * decoders for what {@code tweed lab bpf} prints.
 */
public final class DatapathMaps {
  public static final String ENDPOINTS = "tw_endpoints";
  public static final String IPCACHE = "tw_ipcache";
  public static final String POLICY = "tw_policy";
  public static final String CONNTRACK = "tw_ct";
  public static final String CONFIG = "tw_config";
  public static final String COUNTS = "tw_counts";
  public static final String EVENTS = "tw_events";
  public static final String CONFIG6 = "tw_config6";

  static final int ENDPOINT_SIZE = 28;
  static final int EP_INGRESS_ISOLATED = 1;
  static final int EP_EGRESS_ISOLATED = 2;
  static final int CFG_BGP = 1;
  static final int CFG_NO_FLOWS = 2;
  public static final int CT_STACK = 1;
  public static final int CT_SVC = 2;
  public static final int CT_REVNAT = 4;

  /** A FIN or RST was seen on the connection (the programs set it, a SYN clears it). */
  public static final int CT_CLOSING = 8;

  static final int CONFIG_SIZE = 24;
  static final int CONFIG6_SIZE = 48;
  static final int CT_ENTRY_SIZE = 40;
  static final int CT6_ENTRY_SIZE = 64;

  /**
   * skb->mark bits: from_container has judged and sent this packet on; the egress hook it meets
   * next on the node lets it be.
   */
  public static final int MARK_FORWARDED = 0x00e00000;

  /** Index i of tw_counts: packets forwarded (0), then drops by reason. */
  public static final List<String> COUNT_NAMES =
      List.of(
          "forwarded",
          "policy-denied",
          "spoofed-source",
          "no-route",
          "invalid",
          "no-service",
          "service-rejected",
          "source-range-denied",
          "flow-events-lost");

  /** Not a drop: flow events the ring buffer had no room for (its index in tw_counts). */
  public static final String EVENTS_LOST = "flow-events-lost";

  /** The policy key's fixed part: endpoint, identity, direction and protocol (bits). */
  private static final int POLICY_FIXED_BITS = 32 + 32 + 8 + 8;

  private DatapathMaps() {}

  private static ByteBuffer buffer(int size) {
    return ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
  }

  /**
   * A map of the family: the maps keyed by an address come one per family, as the programs declare
   * them ({@code tw_ct}/{@code tw_ct6}, {@code tw_lb_frontends}/{@code tw_lb6_frontends}).
   */
  public static String of(String ipv4Map, IpFamily family) {
    if (family == IpFamily.IPV4) {
      return ipv4Map;
    }
    return ipv4Map.startsWith("tw_lb_") ? "tw_lb6_" + ipv4Map.substring(6) : ipv4Map + "6";
  }

  /** An address in network order: 4 bytes for IPv4, 16 for IPv6. */
  static byte[] address(String ip) {
    return IpAddress.parse(ip).bytes();
  }

  /** The IPv4 address at {@code offset}, in network order as packets and maps hold it. */
  public static String address(byte[] b, int offset) {
    return address(b, offset, 4);
  }

  /** The address of {@code length} bytes (4: IPv4, 16: IPv6) at {@code offset}. */
  public static String address(byte[] b, int offset, int length) {
    return IpAddress.fromBytes(Arrays.copyOfRange(b, offset, offset + length)).toString();
  }

  static byte[] mac(String mac) {
    return HexFormat.ofDelimiter(":").parseHex(mac);
  }

  static String mac(byte[] b, int offset) {
    return HexFormat.ofDelimiter(":").formatHex(b, offset, offset + 6);
  }

  public static byte[] endpointKey(String ip) {
    return address(ip);
  }

  public static byte[] endpointValue(EbpfIntent.Endpoint e, int ifindex, String nodeMac) {
    ByteBuffer b = buffer(ENDPOINT_SIZE);
    b.putInt(ifindex).putInt(e.id()).putInt(e.identity());
    b.putInt(
        (e.ingressIsolated() ? EP_INGRESS_ISOLATED : 0)
            | (e.egressIsolated() ? EP_EGRESS_ISOLATED : 0));
    b.put(mac(e.mac())).put(mac(nodeMac));
    return b.array();
  }

  /** An endpoint entry as the map holds it. */
  public record EndpointValue(
      String ip,
      int ifindex,
      int id,
      int identity,
      boolean ingressIsolated,
      boolean egressIsolated,
      String mac,
      String nodeMac) {}

  public static EndpointValue endpoint(byte[] key, byte[] v) {
    // The key is the address: 4 bytes in tw_endpoints, 16 in tw_endpoints6.
    ByteBuffer b = ByteBuffer.wrap(v).order(ByteOrder.LITTLE_ENDIAN);
    int ifindex = b.getInt();
    int id = b.getInt();
    int identity = b.getInt();
    int flags = b.getInt();
    return new EndpointValue(
        address(key, 0, key.length),
        ifindex,
        id,
        identity,
        (flags & EP_INGRESS_ISOLATED) != 0,
        (flags & EP_EGRESS_ISOLATED) != 0,
        mac(v, 16),
        mac(v, 22));
  }

  public static byte[] ipcacheKey(String cidr) {
    Cidr c = Cidr.parse(cidr);
    byte[] a = c.base().bytes();
    return buffer(4 + a.length).putInt(c.prefixLength()).put(a).array();
  }

  public static byte[] ipcacheValue(EbpfIntent.IpcacheEntry e) {
    ByteBuffer b = buffer(8).putInt(e.identity());
    b.put(e.tunnelEndpoint().isEmpty() ? new byte[4] : address(e.tunnelEndpoint()));
    return b.array();
  }

  public static EbpfIntent.IpcacheEntry ipcache(byte[] key, byte[] v) {
    int prefix = ByteBuffer.wrap(key).order(ByteOrder.LITTLE_ENDIAN).getInt();
    int identity = ByteBuffer.wrap(v).order(ByteOrder.LITTLE_ENDIAN).getInt();
    String tunnel = address(v, 4);
    return new EbpfIntent.IpcacheEntry(
        address(key, 4, key.length - 4) + "/" + prefix,
        identity,
        tunnel.equals("0.0.0.0") ? "" : tunnel);
  }

  public static byte[] policyKey(EbpfIntent.PolicyEntry p) {
    ByteBuffer b = buffer(16);
    b.putInt(POLICY_FIXED_BITS + p.portPrefixLength()).putInt(p.endpoint()).putInt(p.identity());
    b.put((byte) (p.direction() == EbpfIntent.Direction.INGRESS ? 0 : 1));
    b.put((byte) p.protocol());
    b.order(ByteOrder.BIG_ENDIAN).putShort((short) p.port());
    return b.array();
  }

  public static final byte[] POLICY_ALLOW = buffer(8).putInt(1).putInt(0).array();

  public static EbpfIntent.PolicyEntry policy(byte[] key) {
    ByteBuffer b = ByteBuffer.wrap(key).order(ByteOrder.LITTLE_ENDIAN);
    int prefix = b.getInt();
    int endpoint = b.getInt();
    int identity = b.getInt();
    EbpfIntent.Direction dir =
        b.get() == 0 ? EbpfIntent.Direction.INGRESS : EbpfIntent.Direction.EGRESS;
    int protocol = b.get() & 0xff;
    int port = b.order(ByteOrder.BIG_ENDIAN).getShort() & 0xffff;
    return new EbpfIntent.PolicyEntry(
        endpoint, dir, identity, protocol, port, prefix - POLICY_FIXED_BITS, "");
  }

  /**
   * @param nodeIp the node's address, the source of masqueraded Service traffic ("" for none)
   */
  public static byte[] config(int vxlanIfindex, String serviceCidr, boolean bgp, String nodeIp) {
    return config(vxlanIfindex, serviceCidr, bgp, nodeIp, true);
  }

  /** As above; {@code flowEvents} false: the programs report no flows (observation off). */
  public static byte[] config(
      int vxlanIfindex, String serviceCidr, boolean bgp, String nodeIp, boolean flowEvents) {
    ByteBuffer b = buffer(CONFIG_SIZE).putInt(vxlanIfindex);
    if (serviceCidr.isEmpty()) {
      b.putInt(0).putInt(0);
    } else {
      Cidr c = Cidr.parse(serviceCidr);
      b.put(address(c.baseAddress()));
      int mask = c.prefixLength() == 0 ? 0 : -1 << (32 - c.prefixLength());
      b.order(ByteOrder.BIG_ENDIAN).putInt(mask).order(ByteOrder.LITTLE_ENDIAN);
    }
    b.putInt((bgp ? CFG_BGP : 0) | (flowEvents ? 0 : CFG_NO_FLOWS));
    b.put(nodeIp.isEmpty() ? new byte[4] : address(nodeIp));
    return b.array();
  }

  /**
   * tw_config6: the IPv6 service network and the node's IPv6 address (either "" for none: the
   * programs then see no IPv6 Service network, or masquerade no IPv6 traffic).
   */
  public static byte[] config6(String serviceCidr, String nodeIp) {
    ByteBuffer b = buffer(CONFIG6_SIZE);
    if (serviceCidr.isEmpty()) {
      b.put(new byte[32]);
    } else {
      Cidr c = Cidr.parse(serviceCidr);
      b.put(c.base().bytes());
      b.put(mask6(c));
    }
    b.put(nodeIp.isEmpty() ? new byte[16] : address(nodeIp));
    return b.array();
  }

  private static byte[] mask6(Cidr c) {
    byte[] m = new byte[16];
    for (int i = 0; i < c.prefixLength(); i++) {
      m[i / 8] |= (byte) (0x80 >>> (i % 8));
    }
    return m;
  }

  /** A tracked connection as the map holds it. */
  public record Connection(
      String source,
      int sourcePort,
      String destination,
      int destinationPort,
      int protocol,
      long createdNanos,
      long lastSeenNanos,
      boolean throughStack,
      boolean closing,
      Translation translation) {}

  /**
   * A Service's translation recorded with a connection: for a request to a frontend, the backend
   * and the source after masquerading; for a translated request, the frontend and client its
   * replies get back.
   */
  public record Translation(String kind, String address, int port, String other, int otherPort) {
    public static final Translation NONE = new Translation("", "", 0, "", 0);

    @Override
    public String toString() {
      return switch (kind) {
        case "service" -> "to backend " + address + ":" + port + " from " + other + ":" + otherPort;
        case "reply" -> "replies from " + address + ":" + port + " to " + other + ":" + otherPort;
        default -> "";
      };
    }
  }

  public static byte[] connectionKey(
      String source, int sourcePort, String destination, int destinationPort, int protocol) {
    byte[] s = address(source);
    ByteBuffer b = buffer(2 * s.length + 8).put(s).put(address(destination));
    b.order(ByteOrder.BIG_ENDIAN).putShort((short) sourcePort).putShort((short) destinationPort);
    return b.put((byte) protocol).array();
  }

  /** A tw_ct (16-byte key) or tw_ct6 (40-byte key) entry. */
  public static Connection connection(byte[] key, byte[] v) {
    int a = (key.length - 8) / 2;
    ByteBuffer k = ByteBuffer.wrap(key).order(ByteOrder.BIG_ENDIAN);
    ByteBuffer b = ByteBuffer.wrap(v).order(ByteOrder.LITTLE_ENDIAN);
    return new Connection(
        address(key, 0, a),
        k.getShort(2 * a) & 0xffff,
        address(key, a, a),
        k.getShort(2 * a + 2) & 0xffff,
        key[2 * a + 4] & 0xff,
        b.getLong(0),
        b.getLong(8),
        (b.getInt(16) & CT_STACK) != 0,
        (b.getInt(16) & CT_CLOSING) != 0,
        translation(b.getInt(16), v, a));
  }

  private static Translation translation(int flags, byte[] v, int a) {
    ByteBuffer n = ByteBuffer.wrap(v).order(ByteOrder.BIG_ENDIAN);
    String kind = (flags & CT_SVC) != 0 ? "service" : (flags & CT_REVNAT) != 0 ? "reply" : "";
    if (kind.isEmpty()) {
      return Translation.NONE;
    }
    return new Translation(
        kind,
        address(v, 24, a),
        n.getShort(24 + 2 * a) & 0xffff,
        address(v, 24 + a, a),
        n.getShort(26 + 2 * a) & 0xffff);
  }

  /** Sums a per-CPU counter value (8 bytes a CPU). */
  public static long sumPerCpu(byte[] v) {
    ByteBuffer b = ByteBuffer.wrap(v).order(ByteOrder.LITTLE_ENDIAN);
    long sum = 0;
    while (b.remaining() >= 8) {
      sum += b.getLong();
    }
    return sum;
  }

  public static byte[] index(int i) {
    return buffer(4).putInt(i).array();
  }

  /** The number of possible CPUs: per-CPU map values hold one slot for each. */
  public static int possibleCpus() {
    try {
      String s = Files.readString(Path.of("/sys/devices/system/cpu/possible")).strip();
      int max = 0;
      for (String part : s.split(",")) {
        String[] r = part.split("-");
        max = Math.max(max, Integer.parseInt(r[r.length - 1]));
      }
      return max + 1;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
