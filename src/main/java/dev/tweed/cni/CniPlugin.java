package dev.tweed.cni;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tweed.datastore.Datastore;
import dev.tweed.datastore.DatastoreUnavailableException;
import dev.tweed.datastore.Entry;
import dev.tweed.ipam.BlockIpam;
import dev.tweed.ipam.IpamExhaustedException;
import dev.tweed.ipam.IpamPool;
import dev.tweed.model.Cidr;
import dev.tweed.model.Json;
import dev.tweed.model.ResourceKey;
import dev.tweed.model.WorkloadEndpoint;
import dev.tweed.sys.NetnsFd;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Carries out CNI commands for one node: IPAM, the workload endpoint record, and the veth. Every
 * failure after a change undoes that change, so a failed ADD leaves nothing behind.
 */
public final class CniPlugin {
  private static final Logger LOG = LoggerFactory.getLogger(CniPlugin.class);
  private final String node;
  private final Datastore store;

  /** Why the agent cannot take pods now (empty when it can). */
  private final Supplier<Optional<String>> unready;

  /**
   * Calls for one attachment are serialised; striping keeps the lock table bounded however many
   * containers come and go.
   */
  private final ReentrantLock[] attachmentLocks = new ReentrantLock[64];

  /** Told of every call: its command, how long it took, its CNI error code (0: none). */
  @FunctionalInterface
  public interface CallObserver {
    void call(String command, long nanos, int errorCode);
  }

  private final CallObserver observer;

  public CniPlugin(String node, Datastore store, Supplier<Optional<String>> unready) {
    this(node, store, unready, (command, nanos, code) -> {});
  }

  public CniPlugin(
      String node, Datastore store, Supplier<Optional<String>> unready, CallObserver observer) {
    this.observer = observer;
    this.node = node;
    this.store = store;
    this.unready = unready;
    for (int i = 0; i < attachmentLocks.length; i++) {
      attachmentLocks[i] = new ReentrantLock();
    }
  }

  /** The outcome: what goes to stdout and the exit code. */
  public record Response(int exitCode, String stdout) {}

  /** A call whose namespace, if any, is opened here from {@code CNI_NETNS}. */
  public Response handle(CniRequest req) {
    return handle(req, Optional.empty());
  }

  /**
   * A call with the namespace the shim opened and passed ({@code podNs}); without one, ADD and
   * CHECK open {@code CNI_NETNS} themselves, which needs the runtime's mount to be visible here.
   */
  public Response handle(CniRequest req, Optional<NetnsFd> podNs) {
    long start = System.nanoTime();
    Response r = handleTimed(req, podNs);
    int code = 0;
    if (r.exitCode() != 0) {
      code = Json.parse(r.stdout()).path("code").asInt(CniException.IO_FAILURE);
    }
    observer.call(req.command().name(), System.nanoTime() - start, code);
    return r;
  }

  private Response handleTimed(CniRequest req, Optional<NetnsFd> podNs) {
    try {
      try {
        return switch (req.command()) {
          case VERSION -> ok(versionJson());
          case ADD -> underAttachmentLock(req, () -> withNetns(req, podNs, ns -> add(req, ns)));
          case DEL -> underAttachmentLock(req, () -> del(req));
          case CHECK -> underAttachmentLock(req, () -> withNetns(req, podNs, ns -> check(req, ns)));
          case STATUS -> status();
          case GC -> gc(req);
        };
      } catch (DatastoreUnavailableException e) {
        // The runtime retries a sandbox whose ADD said "try again later"; it must not hang.
        throw new CniException(
            CniException.TRY_AGAIN_LATER, "tweed agent on " + node + ": " + e.getMessage());
      }
    } catch (CniException e) {
      LOG.warn(
          "event=cni-error command={} container={} code={} msg=\"{}\" details=\"{}\"",
          req.command(),
          req.containerId(),
          e.code(),
          e.getMessage(),
          e.details());
      return new Response(1, Json.write(e.toJson(req.cniVersion())));
    }
  }

  public static String versionJson() {
    var n = Json.object();
    n.put("cniVersion", CniVersions.LATEST);
    var a = n.putArray("supportedVersions");
    CniVersions.SUPPORTED.forEach(a::add);
    return Json.write(n);
  }

  private interface Op {
    Response run() throws CniException;
  }

  private interface NetnsOp {
    Response run(NetnsFd ns) throws CniException;
  }

  private static Response withNetns(CniRequest req, Optional<NetnsFd> passed, NetnsOp op)
      throws CniException {
    String path = req.netns().orElseThrow();
    if (passed.isPresent()) {
      return op.run(requireNetns(passed.get(), path));
    }
    NetnsFd opened;
    try {
      opened = NetnsFd.open(Path.of(path));
    } catch (RuntimeException e) {
      throw new CniException(
          CniException.INVALID_ENV, "cannot open CNI_NETNS " + path, e.getMessage());
    }
    try (opened) {
      return op.run(requireNetns(opened, path));
    }
  }

  private static NetnsFd requireNetns(NetnsFd ns, String path) throws CniException {
    if (!ns.isNetworkNamespace()) {
      throw new CniException(
          CniException.INVALID_ENV, "CNI_NETNS " + path + " is not a network namespace");
    }
    return ns;
  }

  private Response underAttachmentLock(CniRequest req, Op op) throws CniException {
    ReentrantLock lock =
        attachmentLocks[Math.floorMod(req.handle().hashCode(), attachmentLocks.length)];
    lock.lock();
    try {
      return op.run();
    } finally {
      lock.unlock();
    }
  }

  private Response add(CniRequest req, NetnsFd podNs) throws CniException {
    long t0 = System.nanoTime();
    Optional<String> notReady = unready.get();
    if (notReady.isPresent()) {
      throw new CniException(
          CniException.TRY_AGAIN_LATER,
          "tweed agent on " + node + " is not ready: " + notReady.get());
    }
    List<IpamPool> pools = poolsOf(req.config());
    int mtu = req.config().path("mtu").asInt(1450);
    String netns = req.netns().orElseThrow();
    String epKey = endpointKey(req);
    Optional<Entry> existing = store.get(epKey);
    VethPlumbing veth = new VethPlumbing(mtu);
    if (existing.isPresent()) {
      WorkloadEndpoint ep = WorkloadEndpoint.from(existing.get().value());
      if (veth.hostInterfaceExists(ep.hostInterface())) {
        // A repeated ADD for a live attachment describes it again rather than failing.
        return ok(
            Json.write(
                CniResult.of(
                    req.cniVersion(),
                    new PodAttachment(
                        ep.hostInterface(),
                        PodAttachment.HOST_MAC,
                        ep.ifname(),
                        ep.mac(),
                        ep.netns(),
                        ep.ips()))));
      }
      teardown(req.handle(), ep, pools);
    }
    List<String> ips = assign(req, pools);
    String hostIf = VethPlumbing.hostInterfaceName(req.containerId(), req.ifname());
    // The endpoint is recorded before the route exists, so the agent never sees Tweed's route
    // without the endpoint that explains it (and would otherwise remove it as drift).
    long tIpam = System.nanoTime();
    String podMac = VethPlumbing.randomMac();
    WorkloadEndpoint ep =
        new WorkloadEndpoint(
            node, req.containerId(), req.ifname(), netns, hostIf, ips, podMac, req.podRef());
    store.put(epKey, ep.toJson());
    PodAttachment att;
    try {
      att = veth.attach(req.containerId(), req.ifname(), netns, podNs, ips, podMac);
    } catch (CniException | RuntimeException e) {
      store.delete(epKey);
      release(req.handle(), pools);
      throw e;
    }
    long tDone = System.nanoTime();
    LOG.info(
        "event=cni-add container={} ifname={} pod={} ip={} host_if={} ipam_ms={} plumbing_ms={}",
        req.containerId(),
        req.ifname(),
        req.podRef(),
        String.join(",", ips),
        hostIf,
        String.format("%.2f", (tIpam - t0) / 1e6),
        String.format("%.2f", (tDone - tIpam) / 1e6));
    return ok(Json.write(CniResult.of(req.cniVersion(), att)));
  }

  /**
   * One address from each pool, in the pools' (the cluster's family) order. When a family is
   * exhausted, the addresses already taken from the others are released before the ADD fails: a pod
   * never holds half of its addresses.
   */
  private List<String> assign(CniRequest req, List<IpamPool> pools) throws CniException {
    try {
      return BlockIpam.assignAll(
              store,
              pools.stream().map(pool -> new BlockIpam(store, pool, node)).toList(),
              req.handle(),
              req.podRef())
          .stream()
          .map(BlockIpam.Assignment::address)
          .toList();
    } catch (IpamExhaustedException e) {
      // Nothing of the handle's was written; a retried ADD may hold addresses of an earlier try.
      release(req.handle(), pools);
      throw new CniException(CniException.IPAM_EXHAUSTED, e.getMessage());
    } catch (RuntimeException e) {
      release(req.handle(), pools);
      throw e;
    }
  }

  private void release(String handle, List<IpamPool> pools) {
    for (IpamPool pool : pools) {
      new BlockIpam(store, pool, node).release(handle);
    }
  }

  private Response del(CniRequest req) throws CniException {
    List<IpamPool> pools = poolsOf(req.config());
    Optional<Entry> existing = store.get(endpointKey(req));
    if (existing.isPresent()) {
      teardown(req.handle(), WorkloadEndpoint.from(existing.get().value()), pools);
    } else {
      // An ADD cut short may have left an allocation or a veth without its endpoint record.
      new VethPlumbing(1500)
          .detach(VethPlumbing.hostInterfaceName(req.containerId(), req.ifname()));
      release(req.handle(), pools);
    }
    LOG.info("event=cni-del container={} ifname={}", req.containerId(), req.ifname());
    return ok("");
  }

  private void teardown(String handle, WorkloadEndpoint ep, List<IpamPool> pools) {
    new VethPlumbing(1500).detach(ep.hostInterface());
    release(handle, pools);
    store.delete(ep.key().toString());
  }

  private Response check(CniRequest req, NetnsFd podNs) throws CniException {
    Optional<Entry> existing = store.get(endpointKey(req));
    if (existing.isEmpty()) {
      throw new CniException(
          CniException.UNKNOWN_CONTAINER,
          "no attachment for container " + req.containerId() + " interface " + req.ifname());
    }
    WorkloadEndpoint ep = WorkloadEndpoint.from(existing.get().value());
    VethPlumbing veth = new VethPlumbing(1500);
    if (!veth.hostInterfaceExists(ep.hostInterface())) {
      throw new CniException(
          CniException.CHECK_FAILED, "host interface " + ep.hostInterface() + " is missing");
    }
    JsonNode prev = req.config().path("prevResult");
    if (!prev.isMissingNode()) {
      for (String address : ep.ips()) {
        String want = PodAttachment.hostPrefix(address);
        boolean listed = false;
        for (JsonNode ip : prev.path("ips")) {
          listed |= sameAddress(want, ip.path("address").asText());
        }
        if (!listed) {
          throw new CniException(CniException.CHECK_FAILED, "prevResult does not list " + want);
        }
      }
    }
    veth.check(podNs, req.ifname(), ep.ips());
    return ok("");
  }

  private Response status() throws CniException {
    Optional<String> notReady = unready.get();
    if (notReady.isPresent()) {
      throw new CniException(
          CniException.NOT_AVAILABLE,
          "tweed agent on " + node + " is not ready: " + notReady.get());
    }
    return ok("");
  }

  /** Releases every attachment of this node that the runtime no longer lists as valid. */
  private Response gc(CniRequest req) throws CniException {
    JsonNode valid = req.config().path("cni.dev/valid-attachments");
    if (!valid.isArray()) {
      throw new CniException(CniException.INVALID_CONFIG, "GC needs cni.dev/valid-attachments");
    }
    Set<String> keep = new HashSet<>();
    for (JsonNode a : valid) {
      keep.add(a.path("containerID").asText() + "." + a.path("ifname").asText());
    }
    List<IpamPool> pools = poolsOf(req.config());
    int removed = 0;
    for (Entry e :
        store.list(ResourceKey.kindPrefix(WorkloadEndpoint.KIND) + node + ".").entries()) {
      WorkloadEndpoint ep = WorkloadEndpoint.from(e.value());
      String handle = ep.containerId() + "." + ep.ifname();
      if (!keep.contains(handle)) {
        teardown(handle, ep, pools);
        removed++;
      }
    }
    int released = 0;
    for (IpamPool pool : pools) {
      released += new BlockIpam(store, pool, node).releaseWhere(h -> !keep.contains(h)).size();
    }
    LOG.info("event=cni-gc endpoints_removed={} addresses_released={}", removed, released);
    return ok("");
  }

  private String endpointKey(CniRequest req) {
    return ResourceKey.cluster(
            WorkloadEndpoint.KIND, WorkloadEndpoint.nameOf(node, req.containerId(), req.ifname()))
        .toString();
  }

  /** Two spellings of one prefix ({@code fd00::0:1/128}, {@code fd00::1/128}) are the same. */
  private static boolean sameAddress(String a, String b) {
    try {
      return Cidr.parse(a).equals(Cidr.parse(b));
    } catch (IllegalArgumentException e) {
      return false;
    }
  }

  /**
   * The pools to assign from, one per family in the cluster's order: {@code ipam.pools} (a list of
   * {@code {"cidr": ..., "blockSize": ...}}), or the single {@code ipam.pool}; 10.244.0.0/16 when
   * neither is given.
   */
  public static List<IpamPool> poolsOf(JsonNode config) throws CniException {
    JsonNode ipam = config.path("ipam");
    try {
      List<IpamPool> pools = new ArrayList<>();
      if (ipam.has("pools")) {
        if (!ipam.path("pools").isArray() || ipam.path("pools").isEmpty()) {
          throw new IllegalArgumentException("ipam.pools must be a non-empty list");
        }
        for (JsonNode p : ipam.path("pools")) {
          Cidr cidr = Cidr.parseStrict(p.path("cidr").asText());
          pools.add(
              p.has("blockSize")
                  ? new IpamPool(cidr, p.path("blockSize").asInt())
                  : IpamPool.withDefaultBlocks(cidr));
        }
      } else {
        pools.add(
            new IpamPool(
                Cidr.parse(ipam.path("pool").asText("10.244.0.0/16")),
                ipam.path("blockSize").asInt(IpamPool.DEFAULT_V4_BLOCK)));
      }
      if (pools.size() > 2
          || pools.stream().map(IpamPool::family).distinct().count() < pools.size()) {
        throw new IllegalArgumentException("ipam.pools takes at most one pool per family");
      }
      return List.copyOf(pools);
    } catch (IllegalArgumentException e) {
      throw new CniException(
          CniException.INVALID_CONFIG, "invalid ipam configuration: " + e.getMessage());
    }
  }

  private static Response ok(String stdout) {
    return new Response(0, stdout);
  }
}
