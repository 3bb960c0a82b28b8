package dev.tweed.ebpf;

import dev.tweed.sys.Libc;
import java.lang.foreign.AddressLayout;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.util.Optional;

/**
 * Debian's libbpf (libbpf1) through the Foreign Function and Memory API: ELF objects opened and
 * loaded with their maps pinned by name, tc hooks, and the {@code bpf(2)} map and test-run calls.
 * libbpf 1.x returns {@code -errno} from its integer calls and sets {@code errno} when a pointer
 * call returns NULL; both become a {@link BpfException}.
 */
final class Libbpf {
  static final int TC_INGRESS = 1;
  static final int TC_EGRESS = 2;
  static final int TC_F_REPLACE = 1;
  static final long BPF_ANY = 0;
  static final int ENOENT = 2;

  private static final Linker LINKER = Linker.nativeLinker();
  private static final SymbolLookup LIB = SymbolLookup.libraryLookup("libbpf.so.1", Arena.global());
  private static final Linker.Option ERRNO = Linker.Option.captureCallState("errno");
  private static final VarHandle ERRNO_HANDLE =
      Linker.Option.captureStateLayout().varHandle(MemoryLayout.PathElement.groupElement("errno"));
  private static final ValueLayout.OfInt I = ValueLayout.JAVA_INT;
  private static final ValueLayout.OfLong L = ValueLayout.JAVA_LONG;
  private static final AddressLayout P = ValueLayout.ADDRESS;

  private static final MethodHandle OPEN_FILE =
      handle("bpf_object__open_file", FunctionDescriptor.of(P, P, P), true);
  private static final MethodHandle OBJ_LOAD =
      handle("bpf_object__load", FunctionDescriptor.of(I, P), false);
  private static final MethodHandle OBJ_CLOSE =
      handle("bpf_object__close", FunctionDescriptor.ofVoid(P), false);
  private static final MethodHandle FIND_PROG =
      handle("bpf_object__find_program_by_name", FunctionDescriptor.of(P, P, P), false);
  private static final MethodHandle PROG_FD =
      handle("bpf_program__fd", FunctionDescriptor.of(I, P), false);
  private static final MethodHandle FIND_MAP =
      handle("bpf_object__find_map_by_name", FunctionDescriptor.of(P, P, P), false);
  private static final MethodHandle MAP_FD =
      handle("bpf_map__fd", FunctionDescriptor.of(I, P), false);
  private static final MethodHandle MAP_SET_MAX =
      handle("bpf_map__set_max_entries", FunctionDescriptor.of(I, P, I), false);
  private static final MethodHandle TC_HOOK_CREATE =
      handle("bpf_tc_hook_create", FunctionDescriptor.of(I, P), false);
  private static final MethodHandle TC_ATTACH =
      handle("bpf_tc_attach", FunctionDescriptor.of(I, P, P), false);
  private static final MethodHandle TC_QUERY =
      handle("bpf_tc_query", FunctionDescriptor.of(I, P, P), false);
  private static final MethodHandle MAP_UPDATE =
      handle("bpf_map_update_elem", FunctionDescriptor.of(I, I, P, P, L), false);
  private static final MethodHandle MAP_UPDATE_BATCH =
      handle("bpf_map_update_batch", FunctionDescriptor.of(I, I, P, P, P, P), false);
  private static final MethodHandle MAP_LOOKUP_BATCH =
      handle("bpf_map_lookup_batch", FunctionDescriptor.of(I, I, P, P, P, P, P, P), false);
  private static final MethodHandle RINGBUF_NEW =
      handle("ring_buffer__new", FunctionDescriptor.of(P, I, P, P, P), true);
  private static final MethodHandle RINGBUF_POLL =
      handle("ring_buffer__poll", FunctionDescriptor.of(I, P, I), false);
  private static final MethodHandle RINGBUF_FREE =
      handle("ring_buffer__free", FunctionDescriptor.ofVoid(P), false);
  private static final MethodHandle MAP_LOOKUP =
      handle("bpf_map_lookup_elem", FunctionDescriptor.of(I, I, P, P), false);
  private static final MethodHandle MAP_DELETE =
      handle("bpf_map_delete_elem", FunctionDescriptor.of(I, I, P), false);
  private static final MethodHandle MAP_NEXT_KEY =
      handle("bpf_map_get_next_key", FunctionDescriptor.of(I, I, P, P), false);
  private static final MethodHandle OBJ_GET =
      handle("bpf_obj_get", FunctionDescriptor.of(I, P), false);
  private static final MethodHandle PROG_TEST_RUN =
      handle("bpf_prog_test_run_opts", FunctionDescriptor.of(I, I, P), false);
  private static final MethodHandle CLOSE =
      LINKER.downcallHandle(
          LINKER.defaultLookup().find("close").orElseThrow(), FunctionDescriptor.of(I, I));

  /** sizeof(struct bpf_object_open_opts) in libbpf 1.1 (up to kernel_log_level). */
  private static final long OPEN_OPTS_SIZE = 80;

  private Libbpf() {}

  private static MethodHandle handle(String name, FunctionDescriptor fd, boolean errno) {
    MemorySegment symbol =
        LIB.find(name).orElseThrow(() -> new UnsatisfiedLinkError("libbpf.so.1 lacks " + name));
    return errno ? LINKER.downcallHandle(symbol, fd, ERRNO) : LINKER.downcallHandle(symbol, fd);
  }

  /** A failed libbpf or bpf(2) call, with the kernel's errno. */
  static final class BpfException extends RuntimeException {
    private final int errno;

    BpfException(String call, int errno) {
      this(call, errno, "");
    }

    BpfException(String call, int errno, String log) {
      super(call + ": " + Libc.strerror(errno) + " (errno " + errno + ")" + log);
      this.errno = errno;
    }

    int errno() {
      return errno;
    }
  }

  private static int check(String call, int rc) {
    if (rc < 0) {
      throw new BpfException(call, -rc);
    }
    return rc;
  }

  private static RuntimeException rethrow(Throwable t) {
    if (t instanceof RuntimeException r) {
      return r;
    }
    if (t instanceof Error e) {
      throw e;
    }
    return new IllegalStateException(t);
  }

  /**
   * Opens an object file; maps declared with {@code LIBBPF_PIN_BY_NAME} are pinned under (and, when
   * already pinned there, reused from) {@code pinRoot}. The verifier's log goes to {@code log}.
   */
  static MemorySegment open(Arena arena, String path, String pinRoot, MemorySegment log) {
    MemorySegment opts = arena.allocate(OPEN_OPTS_SIZE, 8);
    opts.set(L, 0, OPEN_OPTS_SIZE);
    opts.set(P, 24, arena.allocateFrom(pinRoot));
    opts.set(P, 56, log);
    opts.set(L, 64, log.byteSize());
    // Level 0: no log while programs load fine; on a failure libbpf loads again with the log on.
    opts.set(I, 72, 0);
    MemorySegment state = arena.allocate(Linker.Option.captureStateLayout());
    try {
      MemorySegment obj =
          (MemorySegment) OPEN_FILE.invokeExact(state, arena.allocateFrom(path), opts);
      if (obj.equals(MemorySegment.NULL)) {
        throw new BpfException("bpf_object__open_file " + path, (int) ERRNO_HANDLE.get(state, 0L));
      }
      return obj;
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  static void load(MemorySegment obj, MemorySegment log) {
    int rc;
    try {
      rc = (int) OBJ_LOAD.invokeExact(obj);
    } catch (Throwable t) {
      throw rethrow(t);
    }
    if (rc < 0) {
      String text = log.getString(0);
      throw new BpfException("bpf_object__load", -rc, text.isBlank() ? "" : "\n" + text.strip());
    }
  }

  static void close(MemorySegment obj) {
    try {
      OBJ_CLOSE.invokeExact(obj);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  static int programFd(Arena arena, MemorySegment obj, String name) {
    try {
      MemorySegment prog = (MemorySegment) FIND_PROG.invokeExact(obj, arena.allocateFrom(name));
      if (prog.equals(MemorySegment.NULL)) {
        throw new IllegalArgumentException("no program " + name + " in the object");
      }
      return check("bpf_program__fd " + name, (int) PROG_FD.invokeExact(prog));
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  static MemorySegment map(Arena arena, MemorySegment obj, String name) {
    try {
      MemorySegment map = (MemorySegment) FIND_MAP.invokeExact(obj, arena.allocateFrom(name));
      if (map.equals(MemorySegment.NULL)) {
        throw new IllegalArgumentException("no map " + name + " in the object");
      }
      return map;
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  static int mapFd(MemorySegment map) {
    try {
      return check("bpf_map__fd", (int) MAP_FD.invokeExact(map));
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  static void setMaxEntries(MemorySegment map, int entries) {
    try {
      check("bpf_map__set_max_entries", (int) MAP_SET_MAX.invokeExact(map, entries));
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  private static MemorySegment tcHook(Arena arena, int ifindex, int point) {
    MemorySegment hook = arena.allocate(24, 8);
    hook.set(L, 0, 24);
    hook.set(I, 8, ifindex);
    hook.set(I, 12, point);
    return hook;
  }

  private static MemorySegment tcOpts(Arena arena, int progFd, int flags) {
    MemorySegment opts = arena.allocate(32, 8);
    opts.set(L, 0, 32);
    opts.set(I, 8, progFd);
    opts.set(I, 12, flags);
    // One filter per hook, always at handle 1 / priority 1, so an attach replaces it in place.
    opts.set(I, 20, 1);
    opts.set(I, 24, 1);
    return opts;
  }

  /**
   * Attaches a program to a device's tc hook (creating the clsact qdisc when missing), replacing
   * whatever Tweed's filter there ran before in one step.
   */
  /**
   * Attaches to a tc hook, creating the device's clsact qdisc first when {@code createHook} (the
   * ingress attach: the qdisc serves both hooks, and creating it again makes the kernel complain
   * through libbpf's log), or when the attach finds none (it was deleted behind the agent's back).
   */
  static void tcAttach(int ifindex, int point, int progFd, boolean createHook) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment hook = tcHook(arena, ifindex, point);
      if (createHook) {
        createHook(hook);
      }
      int rc = (int) TC_ATTACH.invokeExact(hook, tcOpts(arena, progFd, TC_F_REPLACE));
      if (rc < 0 && !createHook) {
        createHook(hook);
        rc = (int) TC_ATTACH.invokeExact(hook, tcOpts(arena, progFd, TC_F_REPLACE));
      }
      check("bpf_tc_attach", rc);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  private static void createHook(MemorySegment hook) throws Throwable {
    int rc = (int) TC_HOOK_CREATE.invokeExact(hook);
    if (rc < 0 && rc != -17) { // EEXIST: the clsact qdisc is there already
      check("bpf_tc_hook_create", rc);
    }
  }

  /** The id of the program Tweed's filter on that hook runs, if any. */
  static Optional<Integer> tcQuery(int ifindex, int point) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment opts = tcOpts(arena, 0, 0);
      int rc = (int) TC_QUERY.invokeExact(tcHook(arena, ifindex, point), opts);
      if (rc < 0) {
        return Optional.empty();
      }
      return Optional.of(opts.get(I, 16));
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  static void update(int fd, MemorySegment key, MemorySegment value) {
    try {
      check("bpf_map_update_elem", (int) MAP_UPDATE.invokeExact(fd, key, value, BPF_ANY));
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /**
   * Writes {@code count} entries in one call (keys and values packed back to back); returns how
   * many the kernel wrote, which is all of them unless it refused one (that one is the next).
   */
  static int updateBatch(int fd, MemorySegment keys, MemorySegment values, int count, Arena a) {
    MemorySegment n = a.allocate(I);
    n.set(I, 0, count);
    try {
      int rc = (int) MAP_UPDATE_BATCH.invokeExact(fd, keys, values, n, MemorySegment.NULL);
      if (rc < 0) {
        return n.get(I, 0);
      }
      return count;
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /**
   * Reads up to {@code count[0]} entries in one call, after the position {@code in} (NULL: from the
   * start), leaving the next position in {@code out} and the number read in {@code count[0]}. False
   * when the map has no more entries after these.
   */
  static boolean lookupBatch(
      int fd,
      MemorySegment in,
      MemorySegment out,
      MemorySegment keys,
      MemorySegment values,
      MemorySegment count) {
    try {
      int rc =
          (int) MAP_LOOKUP_BATCH.invokeExact(fd, in, out, keys, values, count, MemorySegment.NULL);
      if (rc == -ENOENT) {
        return false;
      }
      check("bpf_map_lookup_batch", rc);
      return true;
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /**
   * A libbpf ring buffer consumer on map {@code fd}: {@code sample} (an upcall stub of {@code int
   * (*)(void *ctx, void *data, size_t size)}) is called for each record by {@link #ringBufferPoll}
   * on the polling thread.
   */
  static MemorySegment ringBufferNew(int fd, MemorySegment sample) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment state = a.allocate(Linker.Option.captureStateLayout());
      MemorySegment rb =
          (MemorySegment)
              RINGBUF_NEW.invokeExact(state, fd, sample, MemorySegment.NULL, MemorySegment.NULL);
      if (rb.address() == 0) {
        throw new BpfException("ring_buffer__new", (int) ERRNO_HANDLE.get(state, 0L));
      }
      return rb;
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** Consumes what is there, waiting up to {@code timeoutMillis}; the records consumed. */
  static int ringBufferPoll(MemorySegment rb, int timeoutMillis) {
    try {
      int n = (int) RINGBUF_POLL.invokeExact(rb, timeoutMillis);
      return n == -4 ? 0 : n; // EINTR: nothing this time
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  static void ringBufferFree(MemorySegment rb) {
    try {
      RINGBUF_FREE.invokeExact(rb);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** False when the key is absent. */
  static boolean lookup(int fd, MemorySegment key, MemorySegment value) {
    try {
      int rc = (int) MAP_LOOKUP.invokeExact(fd, key, value);
      if (rc == -ENOENT) {
        return false;
      }
      check("bpf_map_lookup_elem", rc);
      return true;
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** False when the key was already absent. */
  static boolean delete(int fd, MemorySegment key) {
    try {
      int rc = (int) MAP_DELETE.invokeExact(fd, key);
      if (rc == -ENOENT) {
        return false;
      }
      check("bpf_map_delete_elem", rc);
      return true;
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** False at the end of the map; {@code key} NULL asks for the first key. */
  static boolean nextKey(int fd, MemorySegment key, MemorySegment next) {
    try {
      int rc = (int) MAP_NEXT_KEY.invokeExact(fd, key, next);
      if (rc == -ENOENT) {
        return false;
      }
      check("bpf_map_get_next_key", rc);
      return true;
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** A descriptor of a pinned object (map or program). */
  static int objGet(String path) {
    try (Arena arena = Arena.ofConfined()) {
      return check("bpf_obj_get " + path, (int) OBJ_GET.invokeExact(arena.allocateFrom(path)));
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  static void closeFd(int fd) {
    try {
      int ignored = (int) CLOSE.invokeExact(fd);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** sizeof(struct __sk_buff), and where its mark and ifindex sit. */
  private static final int SKB_SIZE = 192;

  private static final int SKB_MARK = 8;
  private static final int SKB_INGRESS_IFINDEX = 36;
  private static final int SKB_IFINDEX = 40;

  /** The result of one {@code BPF_PROG_TEST_RUN}: the verdict, the packet and mark as it left. */
  record TestRun(int retval, byte[] packet, int mark) {}

  /**
   * Runs a tc program once over {@code packet} on device {@code ifindex}: as received there ({@code
   * ingress}), or as sent by the node itself.
   */
  static TestRun testRun(int progFd, byte[] packet, int ifindex, boolean ingress, int mark) {
    return testRun(progFd, packet, ifindex, ingress, mark, 1);
  }

  /** As above, the program run {@code repeat} times over the same packet inside the kernel. */
  static TestRun testRun(
      int progFd, byte[] packet, int ifindex, boolean ingress, int mark, int repeat) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment in = arena.allocate(packet.length);
      in.copyFrom(MemorySegment.ofArray(packet));
      MemorySegment out = arena.allocate(packet.length + 256L);
      MemorySegment ctxIn = arena.allocate(SKB_SIZE, 8);
      ctxIn.set(I, SKB_MARK, mark);
      ctxIn.set(I, SKB_IFINDEX, ifindex);
      ctxIn.set(I, SKB_INGRESS_IFINDEX, ingress ? ifindex : 0);
      MemorySegment ctxOut = arena.allocate(SKB_SIZE, 8);
      MemorySegment opts = arena.allocate(80, 8);
      opts.set(L, 0, 80);
      opts.set(P, 8, in);
      opts.set(P, 16, out);
      opts.set(I, 24, packet.length);
      opts.set(I, 28, (int) out.byteSize());
      opts.set(P, 32, ctxIn);
      opts.set(P, 40, ctxOut);
      opts.set(I, 48, SKB_SIZE);
      opts.set(I, 52, SKB_SIZE);
      opts.set(I, 60, repeat);
      check("bpf_prog_test_run_opts", (int) PROG_TEST_RUN.invokeExact(progFd, opts));
      int outLen = opts.get(I, 28);
      return new TestRun(
          opts.get(I, 56),
          out.asSlice(0, outLen).toArray(ValueLayout.JAVA_BYTE),
          ctxOut.get(I, SKB_MARK));
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }
}
