package dev.tweed.ebpf;

import dev.tweed.model.IpFamily;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The datapath object loaded into the kernel: its programs (held open to attach to new devices) and
 * its maps, pinned by name under a directory of a bpffs the caller owns. Loading again over
 * existing pins reuses those maps (their entries, conntrack included, survive an agent's restart);
 * the programs are new and replace the old ones on each hook in one step.
 */
public final class Datapath implements AutoCloseable {
  public static final List<String> PROGRAMS =
      List.of(
          "from_container",
          "to_container",
          "from_overlay",
          "to_overlay",
          "from_netdev",
          "to_netdev");

  /** The maps and their key and value sizes in bytes (values per CPU for tw_counts). */
  public static final Map<String, int[]> MAPS =
      Map.ofEntries(
          Map.entry(DatapathMaps.ENDPOINTS, new int[] {4, DatapathMaps.ENDPOINT_SIZE}),
          Map.entry(DatapathMaps.IPCACHE, new int[] {8, 8}),
          Map.entry(DatapathMaps.POLICY, new int[] {16, 8}),
          Map.entry(DatapathMaps.CONNTRACK, new int[] {16, DatapathMaps.CT_ENTRY_SIZE}),
          Map.entry(DatapathMaps.CONFIG, new int[] {4, DatapathMaps.CONFIG_SIZE}),
          Map.entry(DatapathMaps.COUNTS, new int[] {4, 8}),
          Map.entry(LbMaps.FRONTENDS, new int[] {8, 8}),
          Map.entry(LbMaps.SERVICES, new int[] {8, 12}),
          Map.entry(LbMaps.BACKENDS, new int[] {4, 12}),
          Map.entry(LbMaps.AFFINITY, new int[] {8, 16}),
          Map.entry(LbMaps.SOURCE_RANGES, new int[] {12, 4}),
          // IPv6: the maps keyed or valued by an address, one per family (DatapathMaps.of).
          Map.entry(v6(DatapathMaps.ENDPOINTS), new int[] {16, DatapathMaps.ENDPOINT_SIZE}),
          Map.entry(v6(DatapathMaps.IPCACHE), new int[] {20, 8}),
          Map.entry(v6(DatapathMaps.CONNTRACK), new int[] {40, DatapathMaps.CT6_ENTRY_SIZE}),
          Map.entry(DatapathMaps.CONFIG6, new int[] {4, DatapathMaps.CONFIG6_SIZE}),
          Map.entry(v6(LbMaps.FRONTENDS), new int[] {20, 8}),
          Map.entry(v6(LbMaps.SERVICES), new int[] {8, 12}),
          Map.entry(v6(LbMaps.BACKENDS), new int[] {4, 24}),
          Map.entry(v6(LbMaps.AFFINITY), new int[] {20, 16}),
          Map.entry(v6(LbMaps.SOURCE_RANGES), new int[] {24, 4}));

  private static String v6(String map) {
    return DatapathMaps.of(map, IpFamily.IPV6);
  }

  private final Arena arena;
  private final MemorySegment object;
  private final Map<String, Integer> programs = new HashMap<>();
  private final Map<String, BpfMap> maps = new HashMap<>();
  private int eventsFd = -1;

  /** The ring buffer the programs report flows to (a descriptor; not a key/value map). */
  public int eventsFd() {
    return eventsFd;
  }

  private Datapath(Arena arena, MemorySegment object) {
    this.arena = arena;
    this.object = object;
  }

  /**
   * Loads {@code object} with its maps pinned under {@code pinDir}; {@code maxEntries} overrides
   * map sizes (for tests). A program the verifier refuses fails the whole load, with its log.
   */
  public static Datapath load(Path object, Path pinDir, Map<String, Integer> maxEntries) {
    try {
      Files.createDirectories(pinDir);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    Arena arena = Arena.ofShared();
    MemorySegment log = arena.allocate(1 << 20);
    MemorySegment obj;
    try {
      obj = Libbpf.open(arena, object.toString(), pinDir.toString(), log);
    } catch (RuntimeException e) {
      arena.close();
      throw e;
    }
    Datapath d = new Datapath(arena, obj);
    try {
      maxEntries.forEach((name, n) -> Libbpf.setMaxEntries(Libbpf.map(arena, obj, name), n));
      Libbpf.load(obj, log);
      for (String p : PROGRAMS) {
        d.programs.put(p, Libbpf.programFd(arena, obj, p));
      }
      for (var m : MAPS.entrySet()) {
        int fd = Libbpf.mapFd(Libbpf.map(arena, obj, m.getKey()));
        int value = m.getValue()[1];
        if (m.getKey().equals(DatapathMaps.COUNTS)) {
          value *= DatapathMaps.possibleCpus();
        }
        d.maps.put(m.getKey(), new BpfMap(m.getKey(), fd, m.getValue()[0], value, false));
      }
      d.eventsFd = Libbpf.mapFd(Libbpf.map(arena, obj, DatapathMaps.EVENTS));
      return d;
    } catch (RuntimeException e) {
      d.close();
      throw e;
    }
  }

  public int program(String name) {
    Integer fd = programs.get(name);
    if (fd == null) {
      throw new IllegalArgumentException("no program " + name);
    }
    return fd;
  }

  public BpfMap map(String name) {
    BpfMap m = maps.get(name);
    if (m == null) {
      throw new IllegalArgumentException("no map " + name);
    }
    return m;
  }

  /**
   * Runs a program once over a packet with BPF_PROG_TEST_RUN, as received on device {@code ifindex}
   * (of the calling thread's namespace) with {@code mark}.
   */
  public TestRunResult testRun(String program, byte[] packet, int ifindex, int mark) {
    // An ingress hook's packet arrived on the device; an egress hook's is taken as the node's own.
    boolean ingress = program.startsWith("from_");
    Libbpf.TestRun r = Libbpf.testRun(program(program), packet, ifindex, ingress, mark);
    return new TestRunResult(r.retval(), r.packet(), r.mark());
  }

  /**
   * Runs a program {@code repeat} times over one packet inside the kernel (a load generator: the
   * packet's copy is what the last run left).
   */
  public TestRunResult testRun(
      String program, byte[] packet, int ifindex, int repeat, boolean ingress) {
    Libbpf.TestRun r = Libbpf.testRun(program(program), packet, ifindex, ingress, 0, repeat);
    return new TestRunResult(r.retval(), r.packet(), r.mark());
  }

  /** A test run's verdict (TC_ACT_*), the packet and the mark as the program left them. */
  public record TestRunResult(int verdict, byte[] packet, int mark) {}

  /** Attaches a program to a device's tc hook, replacing Tweed's previous filter there. */
  public void attach(int ifindex, boolean ingress, String program) {
    Libbpf.tcAttach(
        ifindex, ingress ? Libbpf.TC_INGRESS : Libbpf.TC_EGRESS, program(program), ingress);
  }

  /**
   * Closes the object: the programs stay loaded as long as a tc filter runs them, the maps as long
   * as they are pinned.
   */
  @Override
  public void close() {
    Libbpf.close(object);
    arena.close();
  }
}
