package dev.tweed.trace.verify;

import dev.tweed.ebpf.BpfMap;
import dev.tweed.ebpf.RingBufferReader;
import dev.tweed.kernel.Packet;
import dev.tweed.model.IpFamily;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Records what Tweed's tc programs do with traced packets on a set of nodes: puts the packets'
 * tuples in each node's {@code tw_trace}, turns {@code tw_trace_on} on, and reads each node's
 * {@code tw_trace_events} ring buffer. {@link #close()} turns tracing off and empties {@code
 * tw_trace} (the programs add a translated packet's tuples there themselves).
 */
public final class ProgramTraceRecorder implements AutoCloseable {
  private static final byte[] ZERO = ByteBuffer.allocate(4).array();

  /** A node's switch, its trace map of each family, and its events. */
  private record Node(BpfMap on, Map<IpFamily, BpfMap> traces, RingBufferReader events) {
    BpfMap trace(Packet p) {
      return traces.get(p.src().family());
    }
  }

  private final Map<String, Node> nodes = new LinkedHashMap<>();
  private final List<ProgramEvent> events = new ArrayList<>();
  private int nextId = 1;

  private ProgramTraceRecorder() {}

  /**
   * @param pins each node's namespace and the directory its agent pins the datapath's maps in
   */
  public static ProgramTraceRecorder start(Map<String, Path> pins) {
    ProgramTraceRecorder r = new ProgramTraceRecorder();
    try {
      for (var e : pins.entrySet()) {
        Path dir = e.getValue();
        if (!Files.exists(dir.resolve("tw_trace_events"))) {
          throw new IllegalStateException(
              "the eBPF datapath of "
                  + e.getKey()
                  + " cannot trace packets (no tw_trace_events under "
                  + dir
                  + "): its agent runs an older datapath; restart it");
        }
        String netns = e.getKey();
        BpfMap on = BpfMap.pinned(dir.resolve("tw_trace_on"), 4, 4);
        Map<IpFamily, BpfMap> trace = new EnumMap<>(IpFamily.class);
        trace.put(IpFamily.IPV4, BpfMap.pinned(dir.resolve("tw_trace"), 16, 4));
        if (Files.exists(dir.resolve("tw_trace6"))) {
          trace.put(IpFamily.IPV6, BpfMap.pinned(dir.resolve("tw_trace6"), 40, 4));
        }
        RingBufferReader reader =
            RingBufferReader.pinned(
                dir.resolve("tw_trace_events"), bytes -> r.add(ProgramEvent.decode(netns, bytes)));
        r.nodes.put(netns, new Node(on, trace, reader));
      }
    } catch (RuntimeException e) {
      r.close();
      throw e;
    }
    return r;
  }

  private synchronized void add(ProgramEvent e) {
    events.add(e);
  }

  /**
   * Traces {@code packets} and their replies on every node from now on, whatever the client's port;
   * returns the trace's id.
   */
  public int arm(Collection<Packet> packets) {
    int id = nextId++;
    byte[] value = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(id).array();
    for (Node n : nodes.values()) {
      for (Packet p : packets) {
        // The client's port is the kernel's choice: requests are named without their source
        // port, replies without their destination port.
        n.trace(p).put(ProgramEvent.key(p.withSrc(p.src(), Optional.of(0))), value);
        Packet back = new Packet(p.dst(), p.src(), p.proto(), p.dport(), 0, 0, 0, 64);
        n.trace(p).put(ProgramEvent.key(back), value);
      }
      n.on().put(ZERO, ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(1).array());
    }
    return id;
  }

  /**
   * The events recorded so far, once none has arrived for {@code quiet}; they are forgotten here.
   */
  public List<ProgramEvent> drain(Duration quiet) throws InterruptedException {
    int seen = -1;
    while (true) {
      int now;
      synchronized (this) {
        now = events.size();
      }
      if (now == seen) {
        break;
      }
      seen = now;
      Thread.sleep(quiet.toMillis());
    }
    synchronized (this) {
      List<ProgramEvent> out = List.copyOf(events);
      events.clear();
      return out;
    }
  }

  /** Stops tracing: tracing off, every traced tuple forgotten. */
  public void disarm() {
    for (Node n : nodes.values()) {
      n.on().put(ZERO, ZERO);
      for (BpfMap trace : n.traces().values()) {
        for (byte[] k : trace.keys()) {
          trace.remove(k);
        }
      }
    }
  }

  @Override
  public void close() {
    RuntimeException first = null;
    for (Node n : nodes.values()) {
      try {
        n.on().put(ZERO, ZERO);
        for (BpfMap trace : n.traces().values()) {
          for (byte[] k : trace.keys()) {
            trace.remove(k);
          }
        }
      } catch (RuntimeException e) {
        first = first == null ? e : first;
      } finally {
        n.events().close();
        n.on().close();
        n.traces().values().forEach(BpfMap::close);
      }
    }
    nodes.clear();
    if (first != null) {
      throw first;
    }
  }
}
