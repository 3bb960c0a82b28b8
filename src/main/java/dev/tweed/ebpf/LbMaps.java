package dev.tweed.ebpf;

import dev.tweed.model.Cidr;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/**
 * The byte layouts of the load-balancing maps as {@code tweed-datapath.bpf.c} declares them (host
 * order for numbers, network order for addresses and ports): encoders for the agent, decoders for
 * {@code tweed lab bpf services|backends}. The maps keyed or valued by an address come one per
 * family ({@link DatapathMaps#of}); their layouts differ only in the address's length, which the
 * encoders take from the address and the decoders from the entry's size.
 */
public final class LbMaps {
  public static final String FRONTENDS = "tw_lb_frontends";
  public static final String SERVICES = "tw_lb_services";
  public static final String BACKENDS = "tw_lb_backends";
  public static final String AFFINITY = "tw_lb_affinity";
  public static final String SOURCE_RANGES = "tw_lb_source_ranges";

  static final int FE_EXTERNAL = 1;
  static final int FE_MASQUERADE = 2;
  static final int FE_SOURCE_RANGES = 4;
  static final int SVC_DROP_EMPTY = 1;

  private LbMaps() {}

  private static ByteBuffer buffer(int size) {
    return ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
  }

  public static byte[] frontendKey(String ip, int port, int protocol) {
    byte[] a = DatapathMaps.address(ip);
    ByteBuffer b = buffer(a.length + 4).put(a);
    b.order(ByteOrder.BIG_ENDIAN).putShort((short) port);
    return b.put((byte) protocol).put((byte) 0).array();
  }

  public static byte[] frontendValue(int service, LbService.Frontend f) {
    int flags =
        (f.external() ? FE_EXTERNAL : 0)
            | (f.masquerade() ? FE_MASQUERADE : 0)
            | (f.ranges() ? FE_SOURCE_RANGES : 0);
    return buffer(8).putInt(service).putInt(flags).array();
  }

  /** A frontend entry as the map holds it. */
  public record FrontendEntry(
      String ip,
      int port,
      int protocol,
      int service,
      boolean external,
      boolean masquerade,
      boolean ranges) {}

  public static FrontendEntry frontend(byte[] key, byte[] value) {
    ByteBuffer k = ByteBuffer.wrap(key).order(ByteOrder.BIG_ENDIAN);
    ByteBuffer v = ByteBuffer.wrap(value).order(ByteOrder.LITTLE_ENDIAN);
    int flags = v.getInt(4);
    int a = key.length - 4;
    return new FrontendEntry(
        DatapathMaps.address(key, 0, a),
        k.getShort(a) & 0xffff,
        key[a + 2] & 0xff,
        v.getInt(0),
        (flags & FE_EXTERNAL) != 0,
        (flags & FE_MASQUERADE) != 0,
        (flags & FE_SOURCE_RANGES) != 0);
  }

  public static byte[] serviceKey(int service, boolean external, int slot) {
    return buffer(8)
        .putInt(service)
        .putShort((short) slot)
        .put((byte) (external ? 1 : 0))
        .put((byte) 0)
        .array();
  }

  /** Slot 0 of a scope: how many backends, the affinity timeout, and whether empty drops. */
  public static byte[] serviceHead(int count, int affinitySeconds, boolean dropWhenEmpty) {
    return buffer(12)
        .putInt(count)
        .putInt(affinitySeconds)
        .putInt(dropWhenEmpty ? SVC_DROP_EMPTY : 0)
        .array();
  }

  public static byte[] serviceSlot(int backend) {
    return buffer(12).putInt(backend).putInt(0).putInt(0).array();
  }

  /** A service map entry: slot 0 (count, affinity, flags) or a slot's backend. */
  public record ServiceEntry(
      int service,
      boolean external,
      int slot,
      int countOrBackend,
      int affinitySeconds,
      boolean dropWhenEmpty) {}

  public static ServiceEntry service(byte[] key, byte[] value) {
    ByteBuffer k = ByteBuffer.wrap(key).order(ByteOrder.LITTLE_ENDIAN);
    ByteBuffer v = ByteBuffer.wrap(value).order(ByteOrder.LITTLE_ENDIAN);
    return new ServiceEntry(
        k.getInt(0),
        key[6] != 0,
        k.getShort(4) & 0xffff,
        v.getInt(0),
        v.getInt(4),
        (v.getInt(8) & SVC_DROP_EMPTY) != 0);
  }

  public static byte[] backendKey(int id) {
    return buffer(4).putInt(id).array();
  }

  public static byte[] backendValue(int service, LbService.Backend b, int protocol) {
    byte[] a = DatapathMaps.address(b.ip());
    ByteBuffer v = buffer(a.length + 8).put(a);
    v.order(ByteOrder.BIG_ENDIAN).putShort((short) b.port()).order(ByteOrder.LITTLE_ENDIAN);
    return v.put((byte) protocol).put((byte) 0).putInt(service).array();
  }

  /** A backend entry as the map holds it. */
  public record BackendEntry(int id, String ip, int port, int protocol, int service) {}

  public static BackendEntry backend(byte[] key, byte[] value) {
    ByteBuffer v = ByteBuffer.wrap(value).order(ByteOrder.BIG_ENDIAN);
    int a = value.length - 8;
    return new BackendEntry(
        ByteBuffer.wrap(key).order(ByteOrder.LITTLE_ENDIAN).getInt(0),
        DatapathMaps.address(value, 0, a),
        v.getShort(a) & 0xffff,
        value[a + 2] & 0xff,
        ByteBuffer.wrap(value).order(ByteOrder.LITTLE_ENDIAN).getInt(a + 4));
  }

  public static byte[] sourceRangeKey(int service, String cidr) {
    Cidr c = Cidr.parse(cidr);
    byte[] a = c.base().bytes();
    return buffer(8 + a.length).putInt(32 + c.prefixLength()).putInt(service).put(a).array();
  }

  public static final byte[] SOURCE_ALLOWED = buffer(4).putInt(1).array();

  /** What the frontend and backend maps hold. */
  public record Contents(
      List<FrontendEntry> frontends, List<BackendEntry> backends, List<ServiceEntry> slots) {
    public Contents {
      frontends = List.copyOf(frontends);
      backends = List.copyOf(backends);
      slots = List.copyOf(slots);
    }
  }

  /** An affinity entry: client, service, backend, when last used (CLOCK_MONOTONIC ns). */
  public record AffinityEntry(String client, int service, int backend, long lastUsedNanos) {}

  public static AffinityEntry affinity(byte[] key, byte[] value) {
    ByteBuffer k = ByteBuffer.wrap(key).order(ByteOrder.LITTLE_ENDIAN);
    ByteBuffer v = ByteBuffer.wrap(value).order(ByteOrder.LITTLE_ENDIAN);
    int a = key.length - 4;
    return new AffinityEntry(
        DatapathMaps.address(key, 0, a), k.getInt(a), v.getInt(8), v.getLong(0));
  }
}
